// The archive pipeline: Object Lock bucket, Athena, Glue, the nightly exporter Lambda, alarms.
import { Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { InfraConfig } from './config';
import { rustCode } from './lambda-code';

/** CloudWatch namespace of the exporter's Embedded Metric Format lines. */
export const METRICS_NAMESPACE = 'XrayArchive';
/** Glue database of the archive tables. */
export const GLUE_DATABASE = 'xray_archive';

export interface ArchiveStackProps extends StackProps {
  readonly config: InfraConfig;
  readonly alarmTopic?: sns.ITopic;
}

export class ArchiveStack extends Stack {
  readonly bucket: s3.Bucket;
  readonly exporter: lambda.Function;
  readonly alarmTopic: sns.ITopic;

  constructor(scope: Construct, id: string, props: ArchiveStackProps) {
    super(scope, id, props);
    const c = props.config;
    const retentionDays = c.retentionYears * 366;

    const key = new kms.Key(this, 'ArchiveKey', {
      description: 'xray-archive: encrypts the trace archive and Athena results',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

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
      environment: {
        XRAY_ARCHIVE_BUCKET: this.bucket.bucketName,
        XRAY_ARCHIVE_PREFIX: '',
        XRAY_ARCHIVE_RETENTION_YEARS: String(c.retentionYears),
        XRAY_ARCHIVE_LOCK_MODE: c.lockMode,
        XRAY_ARCHIVE_KMS_KEY_ID: key.keyArn,
        // A window is exported an hour after it ends; the re-sweep then catches segments
        // that arrive later (X-Ray accepts them for 7 days).
        XRAY_ARCHIVE_SETTLE_MINUTES: '60',
        XRAY_ARCHIVE_RESWEEP: 'true',
      },
    });
    this.exporter.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadXRay',
        // X-Ray's read APIs do not support resource-level permissions.
        actions: ['xray:GetTraceSummaries', 'xray:BatchGetTraces', 'xray:GetTraceSegmentDestination'],
        resources: ['*'],
      }),
    );
    this.exporter.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'WriteArchive',
        // AbortMultipartUpload: a failed multipart upload of a large part is cleaned up.
        actions: ['s3:PutObject', 's3:PutObjectRetention', 's3:PutObjectLegalHold', 's3:GetObject', 's3:AbortMultipartUpload'],
        resources: [this.bucket.arnForObjects('v1/*'), this.bucket.arnForObjects('_manifests/*'), this.bucket.arnForObjects('_state/*'), this.bucket.arnForObjects('_quarantine/*')],
      }),
    );
    this.exporter.addToRolePolicy(
      new iam.PolicyStatement({ sid: 'ListArchive', actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }),
    );
    this.exporter.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'RegisterTables',
        actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:CreateTable', 'glue:UpdateTable', 'athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:GetQueryResults', 'athena:CreateNamedQuery'],
        resources: [
          `arn:${this.partition}:glue:${this.region}:${this.account}:catalog`,
          `arn:${this.partition}:glue:${this.region}:${this.account}:database/${GLUE_DATABASE}`,
          `arn:${this.partition}:glue:${this.region}:${this.account}:table/${GLUE_DATABASE}/*`,
          `arn:${this.partition}:athena:${this.region}:${this.account}:workgroup/${workgroup.name}`,
        ],
      }),
    );
    key.grantEncryptDecrypt(this.exporter);
    results.grantReadWrite(this.exporter);
    database.node.addDependency(workgroup);

    const scheduleRole = new iam.Role(this, 'ScheduleRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com'),
    });
    this.exporter.grantInvoke(scheduleRole);
    new scheduler.CfnSchedule(this, 'NightlyExport', {
      description: 'Nightly X-Ray export, long before the 30-day expiry',
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
    const alarm = (id: string, metric: cloudwatch.IMetric, threshold: number, op: cloudwatch.ComparisonOperator, description: string) => {
      const a = new cloudwatch.Alarm(this, id, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: op,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      a.addAlarmAction(new actions.SnsAction(this.alarmTopic));
      return a;
    };
    const emf = (name: string, statistic: string) =>
      new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName: name, statistic, period: Duration.hours(1) });
    alarm('ExportErrors', this.exporter.metricErrors({ period: Duration.hours(1) }), 0, cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, 'The exporter Lambda failed');
    alarm('ExportLag', emf('LagHours', 'Maximum'), c.maxLagHours, cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, `Export lag above ${c.maxLagHours} hours`);
    const deadline = alarm('ExpiryDeadline', emf('DaysUntilExpiry', 'Minimum'), 7, cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD, 'Oldest unexported trace expires in X-Ray within 7 days');
    deadline.node.addDependency(this.exporter);
    alarm('Throttles', emf('Throttles', 'Sum'), 100, cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, 'X-Ray throttled the exporter more than 100 times in an hour');
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
