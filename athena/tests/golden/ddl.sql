CREATE DATABASE IF NOT EXISTS `xray_archive`
  COMMENT 'xray-archive: X-Ray traces kept for years (v1)';

CREATE EXTERNAL TABLE IF NOT EXISTS `xray_archive`.`segments` (
  `trace_id` string COMMENT 'X-Ray trace id, 1-<8 hex epoch seconds>-<24 hex>; an OpenTelemetry trace id whose first 8 hex digits are not its epoch second keeps its W3C form, 32 hex. Rows are sorted by it within each row group (throughout each part of a sealed day), and it has a bloom filter.',
  `segment_id` string COMMENT 'The document\'s id (16 hex).',
  `parent_id` string COMMENT 'Id of the calling segment or subsegment, if any.',
  `name` string COMMENT 'Service or operation name.',
  `origin` string COMMENT 'Resource type, such as AWS::Lambda::Function.',
  `type` string COMMENT 'segment, or subsegment for an independently sent subsegment.',
  `inferred` boolean COMMENT 'True for segments X-Ray inferred from a downstream call.',
  `in_progress` boolean COMMENT 'True when X-Ray had not yet received the end of this work.',
  `start_time` timestamp COMMENT 'Start, UTC, millisecond precision (Athena\'s precision); exact value in start_us.',
  `end_time` timestamp COMMENT 'End, UTC, millisecond precision; null while in progress. Exact value in end_us.',
  `start_us` bigint COMMENT 'Start in microseconds since the Unix epoch (exact).',
  `end_us` bigint COMMENT 'End in microseconds since the Unix epoch (exact); null while in progress.',
  `error` boolean COMMENT 'Client error (4xx) on the segment itself.',
  `fault` boolean COMMENT 'Server error (5xx) on the segment itself.',
  `throttle` boolean COMMENT 'Throttled (429) on the segment itself.',
  `http_status` int COMMENT 'HTTP response status of the segment.',
  `span_count` int COMMENT 'Number of spans in the document: itself plus all nested subsegments.',
  `payment_id` string COMMENT 'First PaymentId annotation found in the document tree.',
  `limit_exceeded` boolean COMMENT 'X-Ray\'s LimitExceeded for the trace when fetched (trace truncated); null when the source did not say.',
  `document` string COMMENT 'The segment document\'s original JSON text, byte for byte as X-Ray returned it; for an OpenTelemetry span, the span record as received.',
  `format` string COMMENT 'What document holds: xray (an X-Ray segment document), aws-spans (a CloudWatch Transaction Search record) or otlp (a span of an OTLP/JSON export). Added with OpenTelemetry input; the other columns mean the same for every format.'
)
COMMENT 'One row per received document, exactly as received (the evidence copy): an X-Ray segment document, or an OpenTelemetry span record.'
PARTITIONED BY (
  `dt` string COMMENT 'UTC day of the trace id epoch, YYYY-MM-DD'
)
STORED AS PARQUET
LOCATION 's3://audit-archive/prod/v1/segments/'
TBLPROPERTIES (
  'projection.enabled'='true',
  'parquet.compression'='ZSTD',
  'xray_archive.schema_version'='v1',
  'projection.dt.type'='date',
  'projection.dt.format'='yyyy-MM-dd',
  'projection.dt.range'='2024-01-01,NOW',
  'projection.dt.interval'='1',
  'projection.dt.interval.unit'='DAYS',
  'storage.location.template'='s3://audit-archive/prod/v1/segments/dt=${dt}'
);

CREATE EXTERNAL TABLE IF NOT EXISTS `xray_archive`.`spans` (
  `trace_id` string COMMENT 'X-Ray trace id, 1-<8 hex epoch seconds>-<24 hex>; an OpenTelemetry trace id whose first 8 hex digits are not its epoch second keeps its W3C form, 32 hex. Rows are sorted by it within each row group (throughout each part of a sealed day), and it has a bloom filter.',
  `segment_id` string COMMENT 'Id of the segment document this span came from (join to segments).',
  `id` string COMMENT 'The span\'s id (16 hex).',
  `parent_id` string COMMENT 'The caller: the enclosing span for subsegments, the document\'s parent_id for segments.',
  `depth` int COMMENT '0 for a document\'s root span, 1 for its subsegments, and so on.',
  `type` string COMMENT 'segment for a document\'s root, subsegment otherwise.',
  `name` string COMMENT 'Service or operation name.',
  `namespace` string COMMENT 'aws for AWS SDK calls, remote for other downstream calls.',
  `origin` string COMMENT 'Resource type, such as AWS::DynamoDB::Table.',
  `inferred` boolean COMMENT 'True for segments X-Ray inferred from a downstream call.',
  `in_progress` boolean COMMENT 'True when the span had not finished when archived.',
  `start_time` timestamp COMMENT 'Start, UTC, millisecond precision (Athena\'s precision); exact value in start_us.',
  `end_time` timestamp COMMENT 'End, UTC, millisecond precision; null while in progress. Exact value in end_us.',
  `start_us` bigint COMMENT 'Start in microseconds since the Unix epoch (exact).',
  `end_us` bigint COMMENT 'End in microseconds since the Unix epoch (exact); null while in progress.',
  `duration_us` bigint COMMENT 'end_us - start_us; null while in progress.',
  `error` boolean COMMENT 'Client error (4xx).',
  `fault` boolean COMMENT 'Server error (5xx).',
  `throttle` boolean COMMENT 'Throttled (429).',
  `http_method` string COMMENT 'HTTP request method.',
  `http_url` string COMMENT 'HTTP request URL.',
  `http_status` int COMMENT 'HTTP response status.',
  `http_content_length` bigint COMMENT 'HTTP response body length in bytes (-1 when unknown).',
  `http_client_ip` string COMMENT 'Caller IP address.',
  `http_user_agent` string COMMENT 'Caller user agent.',
  `aws_operation` string COMMENT 'AWS API operation called (PutItem, SendMessage, Invoke).',
  `aws_region` string COMMENT 'Region of the AWS resource.',
  `aws_request_id` string COMMENT 'AWS request id.',
  `aws_table_name` string COMMENT 'DynamoDB table name.',
  `aws_queue_url` string COMMENT 'SQS queue URL.',
  `aws_account_id` string COMMENT 'AWS account id.',
  `aws_retries` int COMMENT 'Retries the AWS SDK made.',
  `resource_arn` string COMMENT 'ARN of the resource that ran the work.',
  `user` string COMMENT 'User recorded on the span.',
  `exception_type` string COMMENT 'Type of the first exception in cause.',
  `exception_message` string COMMENT 'Message of the first exception in cause.',
  `cause` string COMMENT 'The cause block as JSON text (exceptions, stack, working directory), as written.',
  `sql` string COMMENT 'The sql block as JSON text, as written.',
  `annotations` map<string,string> COMMENT 'Annotations other than the promoted PaymentId, CorrelationId, CustomerId and PaymentProvider (see their columns); numbers and booleans as JSON text.',
  `metadata` string COMMENT 'The metadata block as JSON text, as written.',
  `payment_id` string COMMENT 'PaymentId annotation of this span.',
  `correlation_id` string COMMENT 'CorrelationId annotation of this span.',
  `customer_id` string COMMENT 'CustomerId annotation of this span (a keyed hash, never the raw id).',
  `payment_provider` string COMMENT 'PaymentProvider annotation of this span (for example Stripe).'
)
COMMENT 'One row per segment and per nested subsegment, flattened, with promoted annotations.'
PARTITIONED BY (
  `dt` string COMMENT 'UTC day of the trace id epoch, YYYY-MM-DD'
)
STORED AS PARQUET
LOCATION 's3://audit-archive/prod/v1/spans/'
TBLPROPERTIES (
  'projection.enabled'='true',
  'parquet.compression'='ZSTD',
  'xray_archive.schema_version'='v1',
  'projection.dt.type'='date',
  'projection.dt.format'='yyyy-MM-dd',
  'projection.dt.range'='2024-01-01,NOW',
  'projection.dt.interval'='1',
  'projection.dt.interval.unit'='DAYS',
  'storage.location.template'='s3://audit-archive/prod/v1/spans/dt=${dt}'
);

CREATE EXTERNAL TABLE IF NOT EXISTS `xray_archive`.`traces` (
  `trace_id` string COMMENT 'X-Ray trace id, 1-<8 hex epoch seconds>-<24 hex>; an OpenTelemetry trace id whose first 8 hex digits are not its epoch second keeps its W3C form, 32 hex. Rows are sorted by it within each row group (throughout each part of a sealed day), and it has a bloom filter.',
  `start_time` timestamp COMMENT 'Earliest segment start, UTC, milliseconds.',
  `end_time` timestamp COMMENT 'Latest segment end, UTC, milliseconds; null if no segment has ended.',
  `start_us` bigint COMMENT 'Start in microseconds since the Unix epoch (exact).',
  `end_us` bigint COMMENT 'End in microseconds since the Unix epoch (exact); null while in progress.',
  `duration_us` bigint COMMENT 'end_us - start_us over all segments.',
  `root_segment_id` string COMMENT 'Id of the root segment: the earliest one without a parent.',
  `root_name` string COMMENT 'Name of the root segment: the service that received the request.',
  `root_origin` string COMMENT 'Origin of the root segment.',
  `http_method` string COMMENT 'HTTP method of the root segment.',
  `http_url` string COMMENT 'HTTP URL of the root segment.',
  `http_status` int COMMENT 'HTTP status of the root segment.',
  `segment_count` int COMMENT 'Segment documents archived for the trace.',
  `span_count` int COMMENT 'Spans archived for the trace (segments plus nested subsegments).',
  `error` boolean COMMENT 'Any span has a client error.',
  `fault` boolean COMMENT 'Any span has a server error.',
  `throttle` boolean COMMENT 'Any span was throttled.',
  `in_progress` boolean COMMENT 'A segment was still in progress when archived, with no completed copy archived.',
  `limit_exceeded` boolean COMMENT 'X-Ray reported LimitExceeded: the trace was truncated. Null when the source did not say.',
  `first_failure` string COMMENT 'Name of the earliest span with a fault or error: where the trace first went wrong.',
  `services` array<string> COMMENT 'Distinct segment names (services) in the trace, sorted.',
  `payment_ids` array<string> COMMENT 'Distinct PaymentId annotations in the trace, sorted.',
  `correlation_ids` array<string> COMMENT 'Distinct CorrelationId annotations in the trace, sorted.'
)
COMMENT 'One row per trace: root service, times, status flags, services, payment ids.'
PARTITIONED BY (
  `dt` string COMMENT 'UTC day of the trace id epoch, YYYY-MM-DD'
)
STORED AS PARQUET
LOCATION 's3://audit-archive/prod/v1/traces/'
TBLPROPERTIES (
  'projection.enabled'='true',
  'parquet.compression'='ZSTD',
  'xray_archive.schema_version'='v1',
  'projection.dt.type'='date',
  'projection.dt.format'='yyyy-MM-dd',
  'projection.dt.range'='2024-01-01,NOW',
  'projection.dt.interval'='1',
  'projection.dt.interval.unit'='DAYS',
  'storage.location.template'='s3://audit-archive/prod/v1/traces/dt=${dt}'
);

CREATE EXTERNAL TABLE IF NOT EXISTS `xray_archive`.`payment_index` (
  `payment_id` string COMMENT 'PaymentId annotation. Rows are sorted by it within each row group (throughout each part of a sealed day), and it has a bloom filter.',
  `trace_id` string COMMENT 'X-Ray trace id, 1-<8 hex epoch seconds>-<24 hex>; an OpenTelemetry trace id whose first 8 hex digits are not its epoch second keeps its W3C form, 32 hex. Rows are sorted by it within each row group (throughout each part of a sealed day), and it has a bloom filter.',
  `dt` date COMMENT 'The trace\'s dt partition in segments, spans and traces.',
  `start_time` timestamp COMMENT 'Trace start, UTC.',
  `root_name` string COMMENT 'Root service of the trace.',
  `error` boolean COMMENT 'The trace has a client error.',
  `fault` boolean COMMENT 'The trace has a server error.'
)
COMMENT 'Payment id to trace ids and days; one part per sealed day, partitioned by day.'
PARTITIONED BY (
  `day` string COMMENT 'UTC day of the traces, YYYY-MM-DD (the rows carry it as dt too)'
)
STORED AS PARQUET
LOCATION 's3://audit-archive/prod/v1/payment_index/'
TBLPROPERTIES (
  'projection.enabled'='true',
  'parquet.compression'='ZSTD',
  'xray_archive.schema_version'='v1',
  'projection.day.type'='date',
  'projection.day.format'='yyyy-MM-dd',
  'projection.day.range'='2024-01-01,NOW',
  'projection.day.interval'='1',
  'projection.day.interval.unit'='DAYS',
  'storage.location.template'='s3://audit-archive/prod/v1/payment_index/day=${day}'
);

