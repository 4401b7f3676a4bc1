// The archive pipeline: Object Lock bucket, Athena, Glue, the hourly exporter Lambda, alarms.
import { Annotations, CfnResource, DefaultStackSynthesizer, Duration, Fn, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { InfraConfig, SEAL_AFTER_DAYS } from './config';
import { rustCode } from './lambda-code';

/** CloudWatch namespace of the exporter's Embedded Metric Format lines. */
export const METRICS_NAMESPACE = 'XrayArchive';
/** Glue database of the archive tables. */
export const GLUE_DATABASE = 'xray_archive';
/** The exporter's key prefix in the bucket (XRAY_ARCHIVE_PREFIX): empty, or ending in `/`. */
export const ARCHIVE_PREFIX = '';
/** Key prefixes written once with `If-None-Match: *` and never overwritten or deleted. */
export const APPEND_ONLY_PREFIXES = ['v1/', '_manifests/', '_quarantine/', '_holds/'];
/** The only mutable objects: progress and lease records, replaced with If-Match / If-None-Match. */
export const STATE_PREFIX = '_state/';
/** Key operations that would make the whole archive unreadable or its protection weaker. */
export const KEY_DESTRUCTIVE_ACTIONS = ['kms:DisableKey', 'kms:ScheduleKeyDeletion', 'kms:PutKeyPolicy', 'kms:DisableKeyRotation'];

/** The exporter's setting naming the secret that holds the redaction hashing key. */
export const HASH_KEY_SECRET_ENV = 'XRAY_ARCHIVE_HASH_KEY_SECRET_ARN';

/** The log group CloudWatch Transaction Search writes every span to. */
export const SPANS_LOG_GROUP = 'aws/spans';
/** Where Firehose delivers the `aws/spans` subscription payloads, as `YYYY/MM/DD/HH/` (UTC) below it. */
export const STAGING_PREFIX = 'aws-spans/';
/** Where Firehose puts what it could not deliver under STAGING_PREFIX; the exporter never reads it. */
export const STAGING_FAILED_PREFIX = 'aws-spans-failed/';
/** The exporter's setting naming the staging prefix: `s3://<bucket>/aws-spans/`. */
export const STAGING_URL_ENV = 'XRAY_ARCHIVE_STAGING_URL';
/** Staged spans expire after this many days: a day is sealed SEAL_AFTER_DAYS after it ends, the rest is room to catch up. */
export const STAGING_EXPIRY_DAYS = 35;

export interface ArchiveStackProps extends StackProps {
  readonly config: InfraConfig;
  readonly alarmTopic?: sns.ITopic;
}

export class ArchiveStack extends Stack {
  readonly bucket: s3.Bucket;
  readonly exporter: lambda.Function;
  readonly alarmTopic: sns.ITopic;
  readonly hashKey: secretsmanager.ISecret;
  /** The staging bucket Firehose fills from `aws/spans`; absent with `spansLogGroup` = `none`. */
  readonly stagingBucket?: s3.Bucket;
  /** The Firehose stream subscribed to `aws/spans`; absent with `spansLogGroup` = `none`. */
  readonly spansDelivery?: firehose.CfnDeliveryStream;

  constructor(scope: Construct, id: string, props: ArchiveStackProps) {
    super(scope, id, props);
    const c = props.config;
    const retentionDays = c.retentionYears * 366;

    const key = new kms.Key(this, 'ArchiveKey', {
      description: 'xray-archive: encrypts the trace archive and Athena results',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Object Lock keeps every version, but a disabled or deleted key makes all of them
    // unreadable: deletion by other means. The root statement delegates kms:* to IAM, so any
    // role with a broad policy could do it; an explicit Deny cannot be outgranted. It excepts
    // principals by ARN instead of listing the roles to deny, so that roles added later (a
    // query role, an operator's SSO role) are covered too. The account root is the
    // break-glass way.
    const rootArn = `arn:${this.partition}:iam::${this.account}:root`;
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyKeyDestructionExceptRoot',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: KEY_DESTRUCTIVE_ACTIONS.filter((a) => a !== 'kms:PutKeyPolicy'),
        resources: ['*'],
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': rootArn } },
      }),
    );
    // PutKeyPolicy also spares the CloudFormation execution role: deployments update this
    // policy, and KMS rejects a policy that denies its caller PutKeyPolicy (the lockout
    // safety check), so without the exception no deployment could create or change the key.
    // A change of this policy therefore goes through a reviewed template.
    if (!(this.synthesizer instanceof DefaultStackSynthesizer)) {
      throw new Error('ArchiveStack needs the DefaultStackSynthesizer: the key policy names its CloudFormation execution role');
    }
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyKeyPolicyChangeExceptRootAndDeployment',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['kms:PutKeyPolicy'],
        resources: ['*'],
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': [rootArn, Fn.sub(this.synthesizer.cloudFormationExecutionRoleArn)] } },
      }),
    );

    const transitions: s3.Transition[] = [
      // Glacier Instant Retrieval stays readable by Athena with no restore: it covers PCI
      // DSS's 12 months and the 540-day chargeback window at a lower price.
      { storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: Duration.days(90) },
    ];
    if (c.deepArchiveAfterDays > 0) {
      // Deep Archive is not readable by Athena until restored (README: restore path).
      transitions.push({ storageClass: s3.StorageClass.DEEP_ARCHIVE, transitionAfter: Duration.days(c.deepArchiveAfterDays) });
    }

    this.bucket = new s3.Bucket(this, 'ArchiveBucket', {
      versioned: true,
      objectLockEnabled: true,
      objectLockDefaultRetention:
        c.lockMode === 'COMPLIANCE'
          ? s3.ObjectLockRetention.compliance(Duration.days(retentionDays))
          : s3.ObjectLockRetention.governance(Duration.days(retentionDays)),
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: key,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          id: 'archive-tiers-and-expiry',
          transitions,
          expiration: Duration.days(retentionDays + 1),
          noncurrentVersionExpiration: Duration.days(retentionDays + 1),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
    });

    const objects = (prefix: string) => this.bucket.arnForObjects(`${ARCHIVE_PREFIX}${prefix}*`);
    // Append-only by construction, for every principal: Object Lock stops a locked version
    // from being removed, but not a newer version on top of it (an overwrite) nor a delete
    // marker, and either would hide the archived bytes from every reader.
    // CreateMultipartUpload and UploadPart are authorized as s3:PutObject too but take no
    // conditional header; s3:ObjectCreationOperation is true only for PutObject, CopyObject
    // and CompleteMultipartUpload, which must carry If-None-Match.
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyUnconditionalWritesToAppendOnlyPrefixes',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:PutObject'],
        resources: APPEND_ONLY_PREFIXES.map(objects),
        conditions: {
          Null: { 's3:if-none-match': 'true' },
          Bool: { 's3:ObjectCreationOperation': 'true' },
        },
      }),
    );
    // Lifecycle expiry is S3's own action, not a request, so the policy does not stop it.
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyDeletesOfAppendOnlyPrefixes',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:DeleteObject', 's3:DeleteObjectVersion'],
        resources: APPEND_ONLY_PREFIXES.map(objects),
      }),
    );

    const results = new s3.Bucket(this, 'AthenaResults', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: key,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.DESTROY,
      lifecycleRules: [{ id: 'expire-results', expiration: Duration.days(30) }],
    });

    const workgroup = new athena.CfnWorkGroup(this, 'Workgroup', {
      name: 'xray-archive',
      description: 'Compliance queries over the X-Ray trace archive',
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: c.athenaBytesScannedCutoff,
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        resultConfiguration: {
          outputLocation: `s3://${results.bucketName}/results/`,
          encryptionConfiguration: { encryptionOption: 'SSE_KMS', kmsKey: key.keyArn },
        },
      },
    });

    const database = new glue.CfnDatabase(this, 'Database', {
      catalogId: this.account,
      databaseInput: { name: GLUE_DATABASE, description: 'xray-archive v1 tables (partition projection)' },
    });

    const failures = new sqs.Queue(this, 'ExporterFailures', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });

    // The HMAC key of hashed emails and IPs. One key for every writer: an archive hashed
    // under two keys holds the same document two ways, and the exporter stops when the key
    // differs from the one its manifests record (by fingerprint). Retained: losing it means
    // the hashes of seven years can no longer be matched.
    this.hashKey = c.hashKeySecretArn
      ? secretsmanager.Secret.fromSecretCompleteArn(this, 'RedactionHashKey', c.hashKeySecretArn)
      : new secretsmanager.Secret(this, 'RedactionHashKey', {
          description: 'xray-archive: HMAC key of hashed emails and IPs (XRAY_ARCHIVE_HASH_KEY); the CLI must use the same key',
          generateSecretString: { passwordLength: 64, excludePunctuation: true },
          removalPolicy: RemovalPolicy.RETAIN,
        });

    this.exporter = new lambda.Function(this, 'Exporter', {
      description: 'xray-archive: exports X-Ray traces to the Parquet archive before they expire',
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture: lambda.Architecture.X86_64,
      handler: 'bootstrap',
      code: rustCode(this, c.exporterArtifact),
      // One exporter at a time: the checkpoint is also guarded by conditional writes.
      reservedConcurrentExecutions: 1,
      // 15 minutes, Lambda's maximum: the exporter stops cleanly before the deadline and the
      // next run continues from the checkpoint.
      timeout: Duration.minutes(15),
      // Conversion buffers about 32 MiB of documents and peaks under 400 MB (README
      // benchmark); 1 GiB also buys a full vCPU for the conversion.
      memorySize: 1024,
      tracing: lambda.Tracing.DISABLED,
      deadLetterQueue: failures,
      // The key is read at run time through the AWS Parameters and Secrets Lambda Extension
      // (an HTTP call on localhost, no SDK client to build into the binary), so its value is
      // never in the function's configuration, where lambda:GetFunctionConfiguration shows it.
      paramsAndSecrets: lambda.ParamsAndSecretsLayerVersion.fromVersion(lambda.ParamsAndSecretsVersions.V1_0_103, {
        cacheEnabled: true,
        logLevel: lambda.ParamsAndSecretsLogLevel.WARN,
      }),
      environment: {
        [HASH_KEY_SECRET_ENV]: this.hashKey.secretArn,
        XRAY_ARCHIVE_BUCKET: this.bucket.bucketName,
        XRAY_ARCHIVE_PREFIX: ARCHIVE_PREFIX,
        XRAY_ARCHIVE_RETENTION_YEARS: String(c.retentionYears),
        XRAY_ARCHIVE_LOCK_MODE: c.lockMode,
        XRAY_ARCHIVE_KMS_KEY_ID: key.keyArn,
        XRAY_ARCHIVE_SEAL_AFTER_DAYS: String(SEAL_AFTER_DAYS),
      },
    });
    this.hashKey.grantRead(this.exporter);
    this.exporter.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadXRay',
        // X-Ray's read APIs do not support resource-level permissions.
        actions: ['xray:GetTraceSummaries', 'xray:BatchGetTraces', 'xray:GetTraceSegmentDestination'],
        resources: ['*'],
      }),
    );
    // Only what it writes: `_holds/` belongs to the operators' hold command.
    const exporterPrefixes = ['v1/', '_manifests/', '_quarantine/', STATE_PREFIX];
    this.exporter.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadArchive',
        actions: ['s3:GetObject', 's3:GetObjectVersion', 's3:GetObjectLegalHold', 's3:GetObjectRetention'],
        resources: exporterPrefixes.map(objects),
      }),
    );
    this.exporter.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'WriteArchive',
        // AbortMultipartUpload: a failed multipart upload of a large part is cleaned up.
        actions: ['s3:PutObject', 's3:PutObjectRetention', 's3:PutObjectLegalHold', 's3:AbortMultipartUpload'],
        resources: exporterPrefixes.map(objects),
      }),
    );
    this.exporter.addToRolePolicy(
      new iam.PolicyStatement({ sid: 'DeleteState', actions: ['s3:DeleteObject'], resources: [objects(STATE_PREFIX)] }),
    );
    this.exporter.addToRolePolicy(
      new iam.PolicyStatement({ sid: 'ListArchive', actions: ['s3:ListBucket', 's3:ListBucketVersions'], resources: [this.bucket.bucketArn] }),
    );
    // S3 encrypts with the archive key on the exporter's behalf (SSE-KMS, multipart included).
    this.exporter.addToRolePolicy(
      new iam.PolicyStatement({ sid: 'UseArchiveKey', actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey'], resources: [key.keyArn] }),
    );
    database.node.addDependency(workgroup);

    // CloudWatch Transaction Search: X-Ray writes every span to `aws/spans` and BatchGetTraces
    // sees only the few it indexes. A subscription filter hands every record to Firehose,
    // which stages the payloads in S3 for the exporter to seal like X-Ray's days.
    if (c.spansLogGroup !== 'none') {
      // Apart from the archive bucket: its Object Lock default retention would lock raw
      // payloads for years, and staging is a buffer, not evidence. Retained like the archive
      // bucket, because spans not sealed yet exist nowhere else in S3; a deleted stack must
      // not take them along (nor empty the bucket, hence no autoDeleteObjects).
      const staging = new s3.Bucket(this, 'StagingBucket', {
        encryption: s3.BucketEncryption.KMS,
        encryptionKey: key,
        bucketKeyEnabled: true,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        enforceSSL: true,
        removalPolicy: RemovalPolicy.RETAIN,
        lifecycleRules: [
          {
            id: 'expire-staged-spans',
            // A day is sealed SEAL_AFTER_DAYS after it ends; the rest leaves about four weeks
            // to catch up after an outage, as X-Ray's 30 days do for its own traces.
            expiration: Duration.days(STAGING_EXPIRY_DAYS),
            abortIncompleteMultipartUploadAfter: Duration.days(1),
          },
        ],
      });
      this.stagingBucket = staging;

      // Firehose reports delivery errors (access denied, a disabled key) here; the payloads
      // stay in Firehose, which retries delivery to S3 for up to 24 hours.
      const deliveryLogs = new logs.LogGroup(this, 'SpansDeliveryErrors', {
        retention: logs.RetentionDays.THREE_MONTHS,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      const deliveryLogStream = new logs.LogStream(this, 'SpansDeliveryErrorsStream', {
        logGroup: deliveryLogs,
        logStreamName: 'DestinationDelivery',
        removalPolicy: RemovalPolicy.DESTROY,
      });

      const deliveryRole = new iam.Role(this, 'SpansDeliveryRole', {
        description: 'xray-archive: Firehose writes aws/spans payloads to the staging bucket',
        assumedBy: new iam.ServicePrincipal('firehose.amazonaws.com'),
        // Firehose passes the account as the external id: no other account's stream can
        // use the role.
        externalIds: [this.account],
      });
      const deliveryPolicy = new iam.Policy(this, 'SpansDeliveryPolicy', {
        roles: [deliveryRole],
        statements: [
          new iam.PolicyStatement({
            sid: 'WriteStagedSpans',
            actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
            resources: [staging.arnForObjects(`${STAGING_PREFIX}*`), staging.arnForObjects(`${STAGING_FAILED_PREFIX}*`)],
          }),
          new iam.PolicyStatement({
            sid: 'StagingBucket',
            actions: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'],
            resources: [staging.bucketArn],
          }),
          // The archive key's policy delegates to IAM; its Deny statements cover only
          // disabling, deleting and re-policying the key, so this grant works through them.
          new iam.PolicyStatement({
            sid: 'UseArchiveKeyThroughS3',
            actions: ['kms:GenerateDataKey', 'kms:Encrypt', 'kms:Decrypt'],
            resources: [key.keyArn],
            conditions: { StringEquals: { 'kms:ViaService': `s3.${this.region}.amazonaws.com` } },
          }),
          new iam.PolicyStatement({
            sid: 'ReportDeliveryErrors',
            actions: ['logs:PutLogEvents'],
            resources: [
              `arn:${this.partition}:logs:${this.region}:${this.account}:log-group:${deliveryLogs.logGroupName}:log-stream:${deliveryLogStream.logStreamName}`,
            ],
          }),
        ],
      });

      const delivery = new firehose.CfnDeliveryStream(this, 'SpansDelivery', {
        deliveryStreamType: 'DirectPut',
        // Firehose's own buffer, encrypted at rest with a key Firehose owns (no grant needed).
        deliveryStreamEncryptionConfigurationInput: { keyType: 'AWS_OWNED_CMK' },
        extendedS3DestinationConfiguration: {
          bucketArn: staging.bucketArn,
          roleArn: deliveryRole.roleArn,
          // No expression: Firehose appends its default `YYYY/MM/DD/HH/` in UTC, the layout
          // the exporter lists by hour.
          prefix: STAGING_PREFIX,
          // Plain as well: Firehose requires expressions here only when the prefix has
          // some. Outside `aws-spans/`, so the exporter never mistakes a failure for spans.
          errorOutputPrefix: STAGING_FAILED_PREFIX,
          // CloudWatch Logs already gzips every payload; compressing again would only wrap
          // gzip in gzip. The exporter reads the concatenated gzip members as they come.
          compressionFormat: 'UNCOMPRESSED',
          encryptionConfiguration: { kmsEncryptionConfig: { awskmsKeyArn: key.keyArn } },
          // The exporter reads and decompresses one object at a time in memory, and gzip'd
          // span JSON expands several times over: 16 MiB objects stay well inside its 1 GiB.
          // Five minutes bounds a quiet account to 12 small objects an hour; latency does not
          // matter, since a day is sealed days after it ends.
          bufferingHints: { sizeInMBs: 16, intervalInSeconds: 300 },
          cloudWatchLoggingOptions: {
            enabled: true,
            logGroupName: deliveryLogs.logGroupName,
            logStreamName: deliveryLogStream.logStreamName,
          },
        },
      });
      // Firehose checks its access to the bucket when the stream is created.
      delivery.addDependency(deliveryPolicy.node.defaultChild as CfnResource);
      this.spansDelivery = delivery;

      const subscriptionRole = new iam.Role(this, 'SpansSubscriptionRole', {
        description: 'xray-archive: CloudWatch Logs sends aws/spans records to the staging Firehose stream',
        assumedBy: new iam.ServicePrincipal('logs.amazonaws.com', {
          conditions: { StringLike: { 'aws:SourceArn': `arn:${this.partition}:logs:${this.region}:${this.account}:*` } },
        }),
      });
      const subscriptionPolicy = new iam.Policy(this, 'SpansSubscriptionPolicy', {
        roles: [subscriptionRole],
        statements: [
          new iam.PolicyStatement({
            sid: 'PutToSpansDelivery',
            actions: ['firehose:PutRecord', 'firehose:PutRecordBatch'],
            resources: [delivery.attrArn],
          }),
        ],
      });
      // `aws/spans` is X-Ray's, made when Transaction Search is switched on: the stack only
      // subscribes to it. An empty pattern passes every record.
      const subscription = new logs.CfnSubscriptionFilter(this, 'SpansSubscription', {
        logGroupName: SPANS_LOG_GROUP,
        filterPattern: '',
        destinationArn: delivery.attrArn,
        roleArn: subscriptionRole.roleArn,
      });
      // CloudWatch Logs tests delivery when the filter is created: the role must already
      // carry its policy.
      subscription.addDependency(subscriptionPolicy.node.defaultChild as CfnResource);

      this.exporter.addEnvironment(STAGING_URL_ENV, `s3://${staging.bucketName}/${STAGING_PREFIX}`);
      // Read only: Firehose writes staging and its lifecycle rule deletes it.
      this.exporter.addToRolePolicy(
        new iam.PolicyStatement({ sid: 'ReadStagedSpans', actions: ['s3:GetObject'], resources: [staging.arnForObjects(`${STAGING_PREFIX}*`)] }),
      );
      this.exporter.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'ListStagedSpans',
          actions: ['s3:ListBucket'],
          resources: [staging.bucketArn],
          // The exporter lists one hour at a time, `aws-spans/YYYY/MM/DD/HH/`.
          conditions: { StringLike: { 's3:prefix': `${STAGING_PREFIX}*` } },
        }),
      );
      // UseArchiveKey above already lets the exporter decrypt staged objects (same key).
    }

    const scheduleRole = new iam.Role(this, 'ScheduleRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com'),
    });
    this.exporter.grantInvoke(scheduleRole);
    // Hourly although a day is sealed once: a backlog (an outage, a first deployment) is
    // sealed across as many 15-minute runs as it takes, and a run with nothing due only
    // reads a small state object.
    new scheduler.CfnSchedule(this, 'HourlyExport', {
      description: `Hourly X-Ray export: seals each UTC day ${SEAL_AFTER_DAYS} days after it ends, long before the 30-day expiry`,
      scheduleExpression: c.scheduleCron,
      scheduleExpressionTimezone: 'UTC',
      flexibleTimeWindow: { mode: 'OFF' },
      target: {
        arn: this.exporter.functionArn,
        roleArn: scheduleRole.roleArn,
        retryPolicy: { maximumRetryAttempts: 2 },
        deadLetterConfig: { arn: failures.queueArn },
      },
    });
    failures.grantSendMessages(scheduleRole);

    this.alarmTopic = props.alarmTopic ?? alarmTopicFor(this, c);
    type AlarmOptions = Partial<Pick<cloudwatch.AlarmProps, 'treatMissingData' | 'evaluationPeriods' | 'datapointsToAlarm'>>;
    const alarm = (id: string, metric: cloudwatch.IMetric, threshold: number, op: cloudwatch.ComparisonOperator, description: string, options: AlarmOptions = {}) => {
      const a = new cloudwatch.Alarm(this, id, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: op,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
        ...options,
      });
      a.addAlarmAction(new actions.SnsAction(this.alarmTopic));
      return a;
    };
    const emf = (name: string, statistic: string) =>
      new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName: name, statistic, period: Duration.hours(1) });
    alarm('ExportErrors', this.exporter.metricErrors({ period: Duration.hours(1) }), 0, cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, 'The exporter Lambda failed');
    alarm('ExportLag', emf('LagHours', 'Maximum'), c.maxLagHours, cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, `Export lag above ${c.maxLagHours} hours`);
    // Missing data breaches: every run prints the metric, so silence means the exporter is
    // not running. Two hours, because a run prints when it ends: a short run late in one
    // hour followed by a long one can leave a single hour without a datapoint.
    const deadline = alarm('ExpiryDeadline', emf('DaysUntilExpiry', 'Minimum'), 7, cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD, 'Oldest unexported trace expires in X-Ray within 7 days, or the exporter stopped reporting', {
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
    });
    deadline.node.addDependency(this.exporter);
    alarm('ExpiredDays', emf('ExpiredDays', 'Maximum'), 0, cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, 'A day was sealed after X-Ray had already deleted some of its traces: they are lost');
    alarm('UnreturnedTraces', emf('UnreturnedTraces', 'Sum'), 0, cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, 'X-Ray listed traces of a sealed day that it then never returned: they are lost (verify names them)');
    alarm('Throttles', emf('Throttles', 'Sum'), 100, cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, 'X-Ray throttled the exporter more than 100 times in an hour');
    if (this.spansDelivery) {
      // The age of the oldest span Firehose has not delivered. With a 300 s buffer it stays
      // near five minutes; a quarter of an hour means delivery to S3 fails (the key, the
      // bucket, the role), and Firehose discards what it could not deliver within 24 hours.
      // No data means no spans came in, which is not a delivery fault.
      const freshness = new cloudwatch.Metric({
        namespace: 'AWS/Firehose',
        metricName: 'DeliveryToS3.DataFreshness',
        dimensionsMap: { DeliveryStreamName: this.spansDelivery.ref },
        statistic: 'Maximum',
        period: Duration.hours(1),
      });
      alarm('SpansDeliveryStale', freshness, 900, cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, 'Firehose has not delivered aws/spans records to the staging bucket for over 15 minutes: spans undelivered for 24 hours are lost');
    }

    // Only the root can do these now; whoever does it, on purpose or not, someone should
    // know at once. DisableKey and ScheduleKeyDeletion take only the key id or its ARN.
    // CloudTrail hands API calls to EventBridge only while a trail is logging management
    // events in the account.
    const keyTampering = new events.Rule(this, 'KeyTamperingAlarm', {
      description: 'xray-archive: the archive key was disabled or scheduled for deletion',
      eventPattern: {
        source: ['aws.kms'],
        detailType: ['AWS API Call via CloudTrail'],
        detail: {
          eventSource: ['kms.amazonaws.com'],
          eventName: ['DisableKey', 'ScheduleKeyDeletion'],
          requestParameters: { keyId: [key.keyId, key.keyArn] },
        },
      },
    });
    // Not targets.SnsTopic: it grants events.amazonaws.com publishing for any rule of any
    // account; this grant names the rule.
    keyTampering.addTarget({ bind: () => ({ arn: this.alarmTopic.topicArn }) });
    const published = [
      this.alarmTopic.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'EventBridgeKeyTamperingRule',
          principals: [new iam.ServicePrincipal('events.amazonaws.com')],
          actions: ['sns:Publish'],
          resources: [this.alarmTopic.topicArn],
          conditions: { ArnEquals: { 'aws:SourceArn': keyTampering.ruleArn } },
        }),
      ),
      // A topic policy replaces SNS's default one, whose account-wide grant is what lets
      // CloudWatch alarms publish: without this statement no alarm would be delivered.
      this.alarmTopic.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'CloudWatchAlarms',
          principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
          actions: ['sns:Publish'],
          resources: [this.alarmTopic.topicArn],
          conditions: {
            ArnLike: { 'aws:SourceArn': `arn:${this.partition}:cloudwatch:${this.region}:${this.account}:alarm:*` },
            StringEquals: { 'aws:SourceAccount': this.account },
          },
        }),
      ),
    ];
    if (published.some((r) => !r.statementAdded)) {
      Annotations.of(this).addWarningV2(
        'xray-archive:alarm-topic-policy',
        `The alarm topic is not managed by this stack: its policy must let events.amazonaws.com (rule ${keyTampering.node.path}) and cloudwatch.amazonaws.com publish.`,
      );
    }
  }
}

export function alarmTopicFor(scope: Construct, c: InfraConfig): sns.ITopic {
  if (c.alarmTopicArn) {
    return sns.Topic.fromTopicArn(scope, 'AlarmTopic', c.alarmTopicArn);
  }
  const topic = new sns.Topic(scope, 'AlarmTopic', { enforceSSL: true });
  if (c.alarmEmail) {
    topic.addSubscription(new subs.EmailSubscription(c.alarmEmail));
  }
  return topic;
}
