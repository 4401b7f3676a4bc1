// Assertions on the synthesized templates: every item the deployment promises, including
// the negative ones (no wildcard actions on the archive, public access blocked, Object Lock).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../bin/app';

/** A built Lambda artifact tree (a bootstrap per function), as the Rust build leaves it. */
function artifacts(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xray-archive-artifacts-'));
  for (const f of ['exporter', 'create-payment', 'stripe-webhook', 'prism-delivery', 'dlq-replay']) {
    fs.mkdirSync(path.join(dir, f));
    fs.writeFileSync(path.join(dir, f, 'bootstrap'), '#!/bin/sh\n');
  }
  return dir;
}

function synth(context: Record<string, unknown> = {}) {
  const dir = artifacts();
  const app = new App({
    context: {
      ...JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'cdk.json'), 'utf8')).context,
      'xray-archive:exporterArtifact': path.join(dir, 'exporter'),
      'xray-archive:paymentArtifacts': dir,
      ...context,
    },
  });
  const { archive, payments } = buildApp(app, path.join(__dirname, '..'));
  return { archive: Template.fromStack(archive), payments: Template.fromStack(payments), archiveStack: archive };
}

const { archive, payments } = synth();
const DAYS = 7 * 366;

function statements(t: Template): any[] {
  return Object.values(t.findResources('AWS::IAM::Policy')).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
}

/** The logical id of the only resource of `type` matching `props`. */
function logicalId(t: Template, type: string, props: any = {}): string {
  const ids = Object.keys(t.findResources(type, props));
  assert.equal(ids.length, 1, `one ${type} matching ${JSON.stringify(props)}, found ${ids}`);
  return ids[0];
}

const BUCKET = logicalId(archive, 'AWS::S3::Bucket', { Properties: { ObjectLockEnabled: true } });
const KEY = logicalId(archive, 'AWS::KMS::Key');
/** The template's ARN of the archive objects under `prefix`. */
const objects = (prefix: string) => ({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [BUCKET, 'Arn'] }, `/${prefix}*`]] });
const APPEND_ONLY = ['v1/', '_manifests/', '_quarantine/', '_holds/'];
const ROOT = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root']] };

/** The statements of the policies attached to the exporter Lambda's role. */
function exporterStatements(): any[] {
  const fn = Object.values(archive.findResources('AWS::Lambda::Function', { Properties: { Handler: 'bootstrap' } })) as any[];
  assert.equal(fn.length, 1);
  const role = fn[0].Properties.Role['Fn::GetAtt'][0];
  const policies = Object.values(archive.findResources('AWS::IAM::Policy')).filter((p: any) =>
    p.Properties.Roles.some((r: any) => r.Ref === role),
  ) as any[];
  assert.ok(policies.length > 0, 'the exporter role has a policy');
  return policies.flatMap((p) => p.Properties.PolicyDocument.Statement);
}

function bucketPolicyStatement(sid: string): any {
  const policy = Object.values(archive.findResources('AWS::S3::BucketPolicy', { Properties: { Bucket: { Ref: BUCKET } } })) as any[];
  assert.equal(policy.length, 1);
  const s = policy[0].Properties.PolicyDocument.Statement.find((x: any) => x.Sid === sid);
  assert.ok(s, `bucket policy statement ${sid}`);
  return s;
}

test('archive bucket: versioned, Object Lock COMPLIANCE for 7 years, KMS, private', () => {
  archive.hasResourceProperties('AWS::S3::Bucket', {
    VersioningConfiguration: { Status: 'Enabled' },
    ObjectLockEnabled: true,
    ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: DAYS } } },
    BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: Match.anyValue() } }] },
    PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
  });
  archive.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
});

test('every bucket is private and refuses plain HTTP', () => {
  const buckets = archive.findResources('AWS::S3::Bucket');
  for (const b of Object.values(buckets) as any[]) {
    assert.deepEqual(b.Properties.PublicAccessBlockConfiguration, {
      BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true,
    });
  }
  const policies = Object.values(archive.findResources('AWS::S3::BucketPolicy')) as any[];
  assert.equal(policies.length, Object.keys(buckets).length);
  for (const p of policies) {
    const tls = p.Properties.PolicyDocument.Statement.filter(
      (s: any) => s.Effect === 'Deny' && s.Action === 's3:*' && JSON.stringify(s.Condition) === JSON.stringify({ Bool: { 'aws:SecureTransport': 'false' } }),
    );
    assert.equal(tls.length, 1, `TLS-only statement in ${JSON.stringify(p.Properties.Bucket)}`);
  }
});

test('lifecycle: Glacier Instant Retrieval at 90 days, expiry after retention, noncurrent versions too', () => {
  archive.hasResourceProperties('AWS::S3::Bucket', {
    ObjectLockEnabled: true,
    LifecycleConfiguration: {
      Rules: [Match.objectLike({
        Status: 'Enabled',
        Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 90 }],
        ExpirationInDays: DAYS + 1,
        NoncurrentVersionExpiration: { NoncurrentDays: DAYS + 1 },
      })],
    },
  });
});

test('optional Deep Archive tier and GOVERNANCE mode come from context', () => {
  const t = synth({ 'xray-archive:deepArchiveAfterDays': 730, 'xray-archive:lockMode': 'GOVERNANCE', 'xray-archive:retentionYears': 5 }).archive;
  t.hasResourceProperties('AWS::S3::Bucket', {
    ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 5 * 366 } } },
    LifecycleConfiguration: { Rules: [Match.objectLike({ Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 90 }, { StorageClass: 'DEEP_ARCHIVE', TransitionInDays: 730 }] })] },
  });
  assert.throws(() => synth({ 'xray-archive:lockMode': 'NONE' }), /lockMode must be COMPLIANCE or GOVERNANCE/);
});

test('Athena: results bucket expires, workgroup enforces encryption and a scan cutoff; Glue database', () => {
  archive.hasResourceProperties('AWS::S3::Bucket', {
    LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 30 })] },
    ObjectLockEnabled: Match.absent(),
  });
  archive.hasResourceProperties('AWS::Athena::WorkGroup', {
    WorkGroupConfiguration: Match.objectLike({
      EnforceWorkGroupConfiguration: true,
      BytesScannedCutoffPerQuery: 10737418240,
      ResultConfiguration: Match.objectLike({ EncryptionConfiguration: Match.objectLike({ EncryptionOption: 'SSE_KMS' }) }),
    }),
  });
  archive.hasResourceProperties('AWS::Glue::Database', { DatabaseInput: { Name: 'xray_archive', Description: Match.anyValue() } });
});

test('exporter Lambda: provided.al2023 on x86_64, one at a time, hourly schedule, failure queue', () => {
  archive.hasResourceProperties('AWS::Lambda::Function', {
    Runtime: 'provided.al2023',
    Architectures: ['x86_64'],
    Handler: 'bootstrap',
    ReservedConcurrentExecutions: 1,
    Timeout: 900,
    MemorySize: 1024,
    DeadLetterConfig: { TargetArn: Match.anyValue() },
  });
  archive.resourceCountIs('AWS::Scheduler::Schedule', 1);
  archive.hasResourceProperties('AWS::Scheduler::Schedule', {
    ScheduleExpression: 'rate(1 hour)',
    ScheduleExpressionTimezone: 'UTC',
    FlexibleTimeWindow: { Mode: 'OFF' },
    Target: Match.objectLike({
      Arn: { 'Fn::GetAtt': [logicalId(archive, 'AWS::Lambda::Function', { Properties: { Handler: 'bootstrap' } }), 'Arn'] },
      DeadLetterConfig: { Arn: Match.anyValue() },
      RetryPolicy: { MaximumRetryAttempts: 2 },
    }),
  });
  const custom = synth({ 'xray-archive:scheduleCron': 'rate(2 hours)' }).archive;
  custom.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(2 hours)' });
});

test('exporter environment: days are sealed 8 days after they end; no window, settle or re-sweep settings', () => {
  const fns = Object.values(archive.findResources('AWS::Lambda::Function', { Properties: { Handler: 'bootstrap' } })) as any[];
  const env = fns[0].Properties.Environment.Variables;
  assert.equal(env.XRAY_ARCHIVE_SEAL_AFTER_DAYS, '8');
  for (const gone of ['XRAY_ARCHIVE_SETTLE_MINUTES', 'XRAY_ARCHIVE_RESWEEP', 'XRAY_ARCHIVE_WINDOW_MINUTES']) {
    assert.equal(env[gone], undefined, `${gone} is no longer set`);
  }
  // The Parameters and Secrets extension's own settings, which CDK sets, are left out.
  const extension = /^(PARAMETERS_SECRETS_EXTENSION_|SECRETS_MANAGER_|SSM_PARAMETER_STORE_)/;
  assert.deepEqual(Object.keys(env).filter((k) => !extension.test(k)).sort(), [
    'XRAY_ARCHIVE_BUCKET', 'XRAY_ARCHIVE_HASH_KEY_SECRET_ARN', 'XRAY_ARCHIVE_KMS_KEY_ID', 'XRAY_ARCHIVE_LOCK_MODE', 'XRAY_ARCHIVE_PREFIX', 'XRAY_ARCHIVE_RETENTION_YEARS', 'XRAY_ARCHIVE_SEAL_AFTER_DAYS',
  ]);
  assert.deepEqual(env.XRAY_ARCHIVE_BUCKET, { Ref: BUCKET });
  assert.equal(env.XRAY_ARCHIVE_PREFIX, '');
  assert.equal(env.XRAY_ARCHIVE_RETENTION_YEARS, '7');
  assert.equal(env.XRAY_ARCHIVE_LOCK_MODE, 'COMPLIANCE');
  assert.deepEqual(env.XRAY_ARCHIVE_KMS_KEY_ID, { 'Fn::GetAtt': [KEY, 'Arn'] });
});

test('IAM: least privilege, no wildcard actions, archive writes only on archive prefixes', () => {
  const all = [...statements(archive), ...statements(payments)];
  for (const s of all) {
    const acts: string[] = [].concat(s.Action);
    for (const a of acts) {
      assert.notEqual(a, '*', `wildcard action in ${JSON.stringify(s)}`);
      assert.ok(!a.endsWith(':*'), `service-wide action ${a}`);
    }
  }
  const write = statements(archive).find((s) => s.Sid === 'WriteArchive');
  assert.ok(write, 'archive write statement');
  assert.deepEqual([...write.Action].sort(), ['s3:AbortMultipartUpload', 's3:PutObject', 's3:PutObjectLegalHold', 's3:PutObjectRetention']);
  // `_holds/` is written by the operators' hold command, not by the exporter.
  assert.deepEqual(write.Resource, ['v1/', '_manifests/', '_quarantine/', '_state/'].map(objects));
  for (const s of statements(archive)) {
    const acts: string[] = [].concat(s.Action);
    if (acts.some((a) => a.startsWith('s3:Put'))) {
      assert.notEqual(s.Resource, '*', 'S3 writes never on every resource');
    }
    if (s.Resource === '*') {
      assert.ok(acts.every((a) => a.startsWith('xray:')), `only X-Ray reads may use resource * (${acts})`);
    }
  }
  const xray = statements(archive).find((s) => s.Sid === 'ReadXRay');
  assert.deepEqual([...xray.Action].sort(), ['xray:BatchGetTraces', 'xray:GetTraceSegmentDestination', 'xray:GetTraceSummaries']);
});

test('archive alarms: errors, lag, days to expiry, throttles', () => {
  archive.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Errors', Namespace: 'AWS/Lambda', Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' });
  archive.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'LagHours', Namespace: 'XrayArchive', Threshold: 240 });
  archive.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'DaysUntilExpiry', Threshold: 7, ComparisonOperator: 'LessThanThreshold' });
  archive.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Throttles', Namespace: 'XrayArchive' });
  for (const a of Object.values(archive.findResources('AWS::CloudWatch::Alarm')) as any[]) {
    assert.equal(a.Properties.AlarmActions.length, 1);
  }
});

test('archive bucket policy: PutObject and CompleteMultipartUpload under append-only prefixes need If-None-Match, for everyone', () => {
  const s = bucketPolicyStatement('DenyUnconditionalWritesToAppendOnlyPrefixes');
  assert.deepEqual(s, {
    Sid: 'DenyUnconditionalWritesToAppendOnlyPrefixes',
    Effect: 'Deny',
    Principal: { AWS: '*' },
    Action: 's3:PutObject',
    Resource: APPEND_ONLY.map(objects),
    // ObjectCreationOperation exempts CreateMultipartUpload and UploadPart, which carry no
    // conditional header; without it no multipart upload could start.
    Condition: { Null: { 's3:if-none-match': 'true' }, Bool: { 's3:ObjectCreationOperation': 'true' } },
  });
  assert.ok(!JSON.stringify(s.Resource).includes('_state'), '_state/ keeps If-Match replacements');
});

test('archive bucket policy: nobody deletes under append-only prefixes; the exporter deletes only _state/', () => {
  assert.deepEqual(bucketPolicyStatement('DenyDeletesOfAppendOnlyPrefixes'), {
    Sid: 'DenyDeletesOfAppendOnlyPrefixes',
    Effect: 'Deny',
    Principal: { AWS: '*' },
    Action: ['s3:DeleteObject', 's3:DeleteObjectVersion'],
    Resource: APPEND_ONLY.map(objects),
  });
  const deletes = exporterStatements().filter((s) => [].concat(s.Action).some((a: string) => a.startsWith('s3:Delete')));
  assert.equal(deletes.length, 1);
  assert.deepEqual(deletes[0], { Sid: 'DeleteState', Effect: 'Allow', Action: 's3:DeleteObject', Resource: objects('_state/') });
  // No statement of any role grants deletes anywhere else in the archive.
  for (const s of statements(archive)) {
    if (s.Effect === 'Allow' && [].concat(s.Action).some((a: string) => a.startsWith('s3:Delete'))) {
      assert.deepEqual(s.Resource, objects('_state/'));
    }
  }
});

test('exporter role: no Glue or Athena rights, only X-Ray reads, the archive bucket, its key and the failure queue', () => {
  const all = exporterStatements();
  const actions = all.flatMap((s) => [].concat(s.Action)) as string[];
  for (const a of actions) {
    assert.ok(!a.startsWith('glue:') && !a.startsWith('athena:'), `unused right ${a}`);
  }
  assert.deepEqual([...new Set(actions)].sort(), [
    'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey',
    's3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:GetObjectLegalHold', 's3:GetObjectRetention', 's3:GetObjectVersion',
    's3:ListBucket', 's3:ListBucketVersions', 's3:PutObject', 's3:PutObjectLegalHold', 's3:PutObjectRetention',
    'secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue',
    'sqs:SendMessage',
    'xray:BatchGetTraces', 'xray:GetTraceSegmentDestination', 'xray:GetTraceSummaries',
  ]);
  const results = logicalId(archive, 'AWS::S3::Bucket', { Properties: { ObjectLockEnabled: Match.absent() } });
  assert.ok(!JSON.stringify(all).includes(results), 'no access to the Athena results bucket');
  const kms = all.filter((s) => [].concat(s.Action).some((a: string) => a.startsWith('kms:')));
  assert.deepEqual(kms, [{ Sid: 'UseArchiveKey', Effect: 'Allow', Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey'], Resource: { 'Fn::GetAtt': [KEY, 'Arn'] } }]);
  const list = all.find((s) => s.Sid === 'ListArchive');
  assert.deepEqual(list.Resource, { 'Fn::GetAtt': [BUCKET, 'Arn'] });
});

test('KMS key policy: only the root may disable, delete or stop rotating the key; the deployment may also update its policy', () => {
  const statement = (sid: string) => {
    const key = Object.values(archive.findResources('AWS::KMS::Key')) as any[];
    const s = key[0].Properties.KeyPolicy.Statement.find((x: any) => x.Sid === sid);
    assert.ok(s, `key policy statement ${sid}`);
    return s;
  };
  assert.deepEqual(statement('DenyKeyDestructionExceptRoot'), {
    Sid: 'DenyKeyDestructionExceptRoot',
    Effect: 'Deny',
    Principal: { AWS: '*' },
    Action: ['kms:DisableKey', 'kms:ScheduleKeyDeletion', 'kms:DisableKeyRotation'],
    Resource: '*',
    Condition: { ArnNotEquals: { 'aws:PrincipalArn': ROOT } },
  });
  assert.deepEqual(statement('DenyKeyPolicyChangeExceptRootAndDeployment'), {
    Sid: 'DenyKeyPolicyChangeExceptRootAndDeployment',
    Effect: 'Deny',
    Principal: { AWS: '*' },
    Action: 'kms:PutKeyPolicy',
    Resource: '*',
    Condition: {
      ArnNotEquals: {
        'aws:PrincipalArn': [ROOT, { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-hnb659fds-cfn-exec-role-${AWS::AccountId}-${AWS::Region}' }],
      },
    },
  });
  // No role of either stack is granted any of these, let alone excepted from the Deny.
  for (const s of [...statements(archive), ...statements(payments)]) {
    for (const a of [].concat(s.Action) as string[]) {
      assert.ok(!['kms:DisableKey', 'kms:ScheduleKeyDeletion', 'kms:PutKeyPolicy', 'kms:DisableKeyRotation'].includes(a), `${a} granted`);
    }
  }
});

test('key tampering: DisableKey or ScheduleKeyDeletion of the archive key notifies the alarm topic, which lets this rule publish', () => {
  const topic = logicalId(archive, 'AWS::SNS::Topic');
  const rule = logicalId(archive, 'AWS::Events::Rule');
  archive.hasResourceProperties('AWS::Events::Rule', {
    State: 'ENABLED',
    EventPattern: {
      source: ['aws.kms'],
      'detail-type': ['AWS API Call via CloudTrail'],
      detail: {
        eventSource: ['kms.amazonaws.com'],
        eventName: ['DisableKey', 'ScheduleKeyDeletion'],
        requestParameters: { keyId: [{ Ref: KEY }, { 'Fn::GetAtt': [KEY, 'Arn'] }] },
      },
    },
    Targets: [{ Arn: { Ref: topic }, Id: Match.anyValue() }],
  });
  archive.hasResourceProperties('AWS::SNS::TopicPolicy', {
    Topics: [{ Ref: topic }],
    PolicyDocument: {
      Statement: Match.arrayWith([
        {
          Sid: 'EventBridgeKeyTamperingRule',
          Effect: 'Allow',
          Principal: { Service: 'events.amazonaws.com' },
          Action: 'sns:Publish',
          Resource: { Ref: topic },
          Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [rule, 'Arn'] } } },
        },
      ]),
    },
  });
});

test('alarm topic: its policy lets CloudWatch alarms of this account publish; an external topic gets a warning', () => {
  const topic = logicalId(archive, 'AWS::SNS::Topic');
  archive.hasResourceProperties('AWS::SNS::TopicPolicy', {
    Topics: [{ Ref: topic }],
    PolicyDocument: {
      Statement: Match.arrayWith([
        Match.objectLike({
          Effect: 'Allow',
          Principal: { Service: 'cloudwatch.amazonaws.com' },
          Action: 'sns:Publish',
          Condition: {
            ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudwatch:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':alarm:*']] } },
            StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
          },
        }),
      ]),
    },
  });
  Annotations.fromStack(synth().archiveStack).hasNoWarning('*', Match.stringLikeRegexp('alarm topic is not managed'));
  const existing = synth({ 'xray-archive:alarmTopicArn': 'arn:aws:sns:us-east-1:123456789012:oncall' });
  existing.archive.hasResourceProperties('AWS::Events::Rule', { Targets: [Match.objectLike({ Arn: 'arn:aws:sns:us-east-1:123456789012:oncall' })] });
  Annotations.fromStack(existing.archiveStack).hasWarning('*', Match.stringLikeRegexp('events.amazonaws.com .* and cloudwatch.amazonaws.com'));
});

test('deadline alarms: ExpiryDeadline breaches when the exporter stops reporting; ExpiredDays and UnreturnedTraces on any loss', () => {
  archive.hasResourceProperties('AWS::CloudWatch::Alarm', {
    MetricName: 'DaysUntilExpiry',
    Namespace: 'XrayArchive',
    Statistic: 'Minimum',
    Threshold: 7,
    ComparisonOperator: 'LessThanThreshold',
    TreatMissingData: 'breaching',
    EvaluationPeriods: 2,
    DatapointsToAlarm: 2,
  });
  archive.hasResourceProperties('AWS::CloudWatch::Alarm', {
    MetricName: 'ExpiredDays',
    Namespace: 'XrayArchive',
    Statistic: 'Maximum',
    Period: 3600,
    Threshold: 0,
    ComparisonOperator: 'GreaterThanThreshold',
    EvaluationPeriods: 1,
    AlarmActions: [{ Ref: logicalId(archive, 'AWS::SNS::Topic') }],
  });
  archive.hasResourceProperties('AWS::CloudWatch::Alarm', {
    MetricName: 'UnreturnedTraces',
    Namespace: 'XrayArchive',
    Statistic: 'Sum',
    Threshold: 0,
    ComparisonOperator: 'GreaterThanThreshold',
    AlarmActions: [{ Ref: logicalId(archive, 'AWS::SNS::Topic') }],
  });
  const byMetric = Object.fromEntries(
    (Object.values(archive.findResources('AWS::CloudWatch::Alarm')) as any[]).map((a) => [a.Properties.MetricName, a.Properties.TreatMissingData]),
  );
  assert.deepEqual(byMetric, {
    Errors: 'notBreaching', LagHours: 'notBreaching', DaysUntilExpiry: 'breaching', ExpiredDays: 'notBreaching', UnreturnedTraces: 'notBreaching', Throttles: 'notBreaching',
  });
});

test('the lag alarm threshold must exceed the seal delay', () => {
  assert.throws(() => synth({ 'xray-archive:maxLagHours': 72 }), /maxLagHours must be a number from 240 to 480/);
  synth({ 'xray-archive:maxLagHours': 300 }).archive.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'LagHours', Threshold: 300 });
});

test('payment core: traced API Gateway and Lambdas, DynamoDB, queue with DLQ', () => {
  payments.hasResourceProperties('AWS::ApiGateway::Stage', { TracingEnabled: true, StageName: 'prod' });
  const fns = Object.values(payments.findResources('AWS::Lambda::Function')) as any[];
  const traced = fns.filter((f) => f.Properties.TracingConfig?.Mode === 'Active');
  assert.equal(traced.length, 4);
  assert.deepEqual(traced.map((f) => f.Properties.Environment.Variables.VAULTLINK_HANDLER).sort(), ['api', 'api', 'delivery', 'replay']);
  for (const f of traced) {
    const env = f.Properties.Environment.Variables;
    assert.equal(env.PRISM_MAX_RECEIVES, '5');
    for (const secret of ['STRIPE_API_KEY', 'STRIPE_WEBHOOK_SECRET', 'CUSTOMER_HASH_KEY']) {
      assert.equal(env[secret], undefined, `${secret} must not be in the template`);
    }
  }
  payments.resourceCountIs('AWS::DynamoDB::Table', 1);
  payments.hasResourceProperties('AWS::DynamoDB::Table', { KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] });
  payments.hasResourceProperties('AWS::SQS::Queue', { RedrivePolicy: { deadLetterTargetArn: Match.anyValue(), maxReceiveCount: 5 } });
  payments.hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: 10 });
});

test('sampling rules: payments and webhooks 100%, background 10%, health 0%', () => {
  const rules = Object.values(payments.findResources('AWS::XRay::SamplingRule')).map((r: any) => r.Properties.SamplingRule);
  const byPath = Object.fromEntries(rules.map((r: any) => [r.URLPath, r.FixedRate]));
  assert.deepEqual(byPath, { '/payments*': 1, '/webhooks/*': 1, '/jobs/*': 0.1, '/health': 0 });
});

test('payment core alarms: webhook errors in 5 minutes, DLQ depth, X-Ray error rate', () => {
  payments.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Errors', Threshold: 0, Period: 300 });
  payments.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 5 });
  payments.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ErrorRate', Namespace: 'AWS/X-Ray', Threshold: 0.01, Period: 600 });
});

test('alarms go to an email subscription, or to an existing topic when one is given', () => {
  const withEmail = synth({ 'xray-archive:alarmEmail': 'ops@example.com' }).archive;
  withEmail.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
  const existing = synth({ 'xray-archive:alarmTopicArn': 'arn:aws:sns:us-east-1:123456789012:oncall' }).archive;
  existing.resourceCountIs('AWS::SNS::Topic', 0);
  existing.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmActions: ['arn:aws:sns:us-east-1:123456789012:oncall'] });
});

test('redaction hash key: a retained Secrets Manager secret, read by the exporter through the extension, never in its environment', () => {
  const secret = logicalId(archive, 'AWS::SecretsManager::Secret');
  archive.hasResource('AWS::SecretsManager::Secret', {
    DeletionPolicy: 'Retain',
    Properties: { GenerateSecretString: Match.objectLike({ PasswordLength: 64, ExcludePunctuation: true }) },
  });
  const fn = Object.values(archive.findResources('AWS::Lambda::Function', { Properties: { Handler: 'bootstrap' } })) as any[];
  const props = fn[0].Properties;
  assert.deepEqual(props.Environment.Variables.XRAY_ARCHIVE_HASH_KEY_SECRET_ARN, { Ref: secret });
  assert.equal(props.Environment.Variables.XRAY_ARCHIVE_HASH_KEY, undefined, 'the key itself is never configuration');
  assert.equal(props.Layers.length, 1, 'the Parameters and Secrets extension');
  const map = props.Layers[0]['Fn::FindInMap'][0];
  assert.match(JSON.stringify(archive.toJSON().Mappings[map]), /AWS-Parameters-and-Secrets-Lambda-Extension/);
  const reads = exporterStatements().filter((s) => [].concat(s.Action).some((a: string) => a.startsWith('secretsmanager:')));
  assert.deepEqual(reads.map((s) => s.Resource), [{ Ref: secret }], 'only this secret');

  // An existing secret is used as given; none is created.
  const arn = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:xray-archive-hash-key-AbCdEf';
  const shared = synth({ 'xray-archive:hashKeySecretArn': arn }).archive;
  shared.resourceCountIs('AWS::SecretsManager::Secret', 0);
  const sharedFn = Object.values(shared.findResources('AWS::Lambda::Function', { Properties: { Handler: 'bootstrap' } })) as any[];
  assert.equal(sharedFn[0].Properties.Environment.Variables.XRAY_ARCHIVE_HASH_KEY_SECRET_ARN, arn);
  const sharedReads = Object.values(shared.findResources('AWS::IAM::Policy'))
    .flatMap((p: any) => p.Properties.PolicyDocument.Statement)
    .filter((s: any) => [].concat(s.Action).some((a: string) => a.startsWith('secretsmanager:')));
  assert.deepEqual(sharedReads.map((s: any) => s.Resource), [arn]);
});

// CloudWatch Transaction Search staging: `existing` subscribes Firehose to X-Ray's aws/spans.
const staged = synth({ 'xray-archive:spansLogGroup': 'existing' }).archive;
const STAGING = logicalId(staged, 'AWS::S3::Bucket', { Properties: { LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 35 })] } } });
const STAGED_KEY = logicalId(staged, 'AWS::KMS::Key');
const DELIVERY = logicalId(staged, 'AWS::KinesisFirehose::DeliveryStream');
const stagingObjects = (prefix: string) => ({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [STAGING, 'Arn'] }, `/${prefix}*`]] });

/** The statements of the policies attached to the role `roleId` in `t`. */
function roleStatements(t: Template, roleId: string): any[] {
  const policies = Object.values(t.findResources('AWS::IAM::Policy')).filter((p: any) => p.Properties.Roles.some((r: any) => r.Ref === roleId)) as any[];
  assert.ok(policies.length > 0, `${roleId} has a policy`);
  return policies.flatMap((p) => p.Properties.PolicyDocument.Statement);
}

/** The statements of the exporter role's policies in `t`. */
function exporterStatementsOf(t: Template): any[] {
  const fn = Object.values(t.findResources('AWS::Lambda::Function', { Properties: { Handler: 'bootstrap' } })) as any[];
  assert.equal(fn.length, 1);
  return roleStatements(t, fn[0].Properties.Role['Fn::GetAtt'][0]);
}

function exporterEnv(t: Template): Record<string, unknown> {
  const fn = Object.values(t.findResources('AWS::Lambda::Function', { Properties: { Handler: 'bootstrap' } })) as any[];
  return fn[0].Properties.Environment.Variables;
}

test('staging bucket: raw spans expire after 35 days, never locked, archive key, private, TLS only, retained', () => {
  const b = staged.findResources('AWS::S3::Bucket')[STAGING] as any;
  assert.equal(b.DeletionPolicy, 'Retain');
  assert.equal(b.Properties.ObjectLockEnabled, undefined);
  assert.equal(b.Properties.ObjectLockConfiguration, undefined);
  assert.equal(b.Properties.VersioningConfiguration, undefined);
  assert.deepEqual(b.Properties.LifecycleConfiguration.Rules, [
    { Id: 'expire-staged-spans', Status: 'Enabled', ExpirationInDays: 35, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } },
  ]);
  assert.deepEqual(b.Properties.BucketEncryption.ServerSideEncryptionConfiguration, [
    { BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [STAGED_KEY, 'Arn'] } } },
  ]);
  assert.deepEqual(b.Properties.PublicAccessBlockConfiguration, { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
  const policy = Object.values(staged.findResources('AWS::S3::BucketPolicy', { Properties: { Bucket: { Ref: STAGING } } })) as any[];
  assert.equal(policy.length, 1);
  assert.ok(
    policy[0].Properties.PolicyDocument.Statement.some((s: any) => s.Effect === 'Deny' && s.Action === 's3:*' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false'),
    'TLS only',
  );
  // The archive bucket keeps its Object Lock; the staging bucket is a second, separate bucket.
  assert.equal(Object.keys(staged.findResources('AWS::S3::Bucket', { Properties: { ObjectLockEnabled: true } })).length, 1);
  assert.notEqual(STAGING, logicalId(staged, 'AWS::S3::Bucket', { Properties: { ObjectLockEnabled: true } }));
});

test('spans delivery: DirectPut into aws-spans/ with the default hourly layout, uncompressed, SSE-KMS with the archive key, errors logged', () => {
  const d = (staged.findResources('AWS::KinesisFirehose::DeliveryStream')[DELIVERY] as any).Properties;
  assert.equal(d.DeliveryStreamType, 'DirectPut');
  const s3 = d.ExtendedS3DestinationConfiguration;
  assert.deepEqual(s3.BucketARN, { 'Fn::GetAtt': [STAGING, 'Arn'] });
  assert.equal(s3.Prefix, 'aws-spans/', 'no expression: Firehose appends YYYY/MM/DD/HH/ in UTC');
  assert.equal(s3.ErrorOutputPrefix, 'aws-spans-failed/');
  assert.ok(!s3.ErrorOutputPrefix.startsWith(s3.Prefix), 'failures are outside the prefix the exporter reads');
  assert.equal(s3.DynamicPartitioningConfiguration, undefined);
  assert.equal(s3.ProcessingConfiguration, undefined);
  assert.equal(s3.CompressionFormat, 'UNCOMPRESSED', 'CloudWatch Logs payloads are already gzip');
  assert.deepEqual(s3.EncryptionConfiguration, { KMSEncryptionConfig: { AWSKMSKeyARN: { 'Fn::GetAtt': [STAGED_KEY, 'Arn'] } } });
  assert.deepEqual(s3.BufferingHints, { SizeInMBs: 16, IntervalInSeconds: 300 });
  const group = logicalId(staged, 'AWS::Logs::LogGroup');
  assert.deepEqual(s3.CloudWatchLoggingOptions, { Enabled: true, LogGroupName: { Ref: group }, LogStreamName: { Ref: logicalId(staged, 'AWS::Logs::LogStream') } });
  // Firehose checks its access to the bucket when the stream is created.
  const role = s3.RoleARN['Fn::GetAtt'][0];
  const policy = Object.keys(staged.findResources('AWS::IAM::Policy')).find((id) =>
    (staged.findResources('AWS::IAM::Policy')[id] as any).Properties.Roles.some((r: any) => r.Ref === role),
  );
  assert.deepEqual((staged.findResources('AWS::KinesisFirehose::DeliveryStream')[DELIVERY] as any).DependsOn, [policy]);
});

test('spans delivery role: assumed by Firehose for this account only; writes only the staging prefixes, uses the key only through S3', () => {
  const d = (staged.findResources('AWS::KinesisFirehose::DeliveryStream')[DELIVERY] as any).Properties;
  const roleId = d.ExtendedS3DestinationConfiguration.RoleARN['Fn::GetAtt'][0];
  const role = (staged.findResources('AWS::IAM::Role')[roleId] as any).Properties;
  assert.deepEqual(role.AssumeRolePolicyDocument.Statement, [
    { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'firehose.amazonaws.com' }, Condition: { StringEquals: { 'sts:ExternalId': { Ref: 'AWS::AccountId' } } } },
  ]);
  assert.equal(role.ManagedPolicyArns, undefined);
  const all = roleStatements(staged, roleId);
  const byActions = Object.fromEntries(all.map((s) => [([].concat(s.Action) as string[]).sort().join(' '), s]));
  assert.deepEqual(Object.keys(byActions).sort(), [
    'kms:Decrypt kms:Encrypt kms:GenerateDataKey',
    'logs:PutLogEvents',
    's3:AbortMultipartUpload s3:PutObject',
    's3:GetBucketLocation s3:ListBucket s3:ListBucketMultipartUploads',
  ]);
  for (const s of all) {
    assert.equal(s.Effect, 'Allow');
    assert.ok(!JSON.stringify(s.Resource).includes('"*"') && s.Resource !== '*', `no wildcard resource in ${s.Sid}`);
  }
  assert.deepEqual(byActions['s3:AbortMultipartUpload s3:PutObject'].Resource, [stagingObjects('aws-spans/'), stagingObjects('aws-spans-failed/')]);
  assert.deepEqual(byActions['s3:GetBucketLocation s3:ListBucket s3:ListBucketMultipartUploads'].Resource, { 'Fn::GetAtt': [STAGING, 'Arn'] });
  const kms = byActions['kms:Decrypt kms:Encrypt kms:GenerateDataKey'];
  assert.deepEqual(kms.Resource, { 'Fn::GetAtt': [STAGED_KEY, 'Arn'] });
  assert.deepEqual(kms.Condition, { StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['s3.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } } });
  const logsResource = JSON.stringify(byActions['logs:PutLogEvents'].Resource);
  assert.ok(logsResource.includes(logicalId(staged, 'AWS::Logs::LogStream')), 'only the delivery error stream');
  // Nothing of the archive bucket.
  const archiveBucket = logicalId(staged, 'AWS::S3::Bucket', { Properties: { ObjectLockEnabled: true } });
  assert.ok(!JSON.stringify(all).includes(archiveBucket), 'no access to the archive bucket');
});

test('spans subscription: every aws/spans record to the delivery stream, through a logs role that may only put records on it', () => {
  const filters = Object.values(staged.findResources('AWS::Logs::SubscriptionFilter')) as any[];
  assert.equal(filters.length, 1);
  const f = filters[0];
  assert.equal(f.Properties.LogGroupName, 'aws/spans');
  assert.equal(f.Properties.FilterPattern, '');
  assert.deepEqual(f.Properties.DestinationArn, { 'Fn::GetAtt': [DELIVERY, 'Arn'] });
  const roleId = f.Properties.RoleArn['Fn::GetAtt'][0];
  const role = (staged.findResources('AWS::IAM::Role')[roleId] as any).Properties;
  assert.deepEqual(role.AssumeRolePolicyDocument.Statement, [
    {
      Action: 'sts:AssumeRole',
      Effect: 'Allow',
      Principal: { Service: 'logs.amazonaws.com' },
      Condition: {
        StringLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':logs:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':*']] } },
      },
    },
  ]);
  assert.deepEqual(roleStatements(staged, roleId), [
    { Sid: 'PutToSpansDelivery', Effect: 'Allow', Action: ['firehose:PutRecord', 'firehose:PutRecordBatch'], Resource: { 'Fn::GetAtt': [DELIVERY, 'Arn'] } },
  ]);
  // Created after the role's policy: CloudWatch Logs tests delivery when the filter is made.
  const policy = Object.keys(staged.findResources('AWS::IAM::Policy')).find((id) =>
    (staged.findResources('AWS::IAM::Policy')[id] as any).Properties.Roles.some((r: any) => r.Ref === roleId),
  );
  assert.ok(policy);
  assert.deepEqual(f.DependsOn, [policy]);
});

test('existing subscribes to the aws/spans group X-Ray made: the stack creates no log group of that name', () => {
  for (const g of Object.values(staged.findResources('AWS::Logs::LogGroup')) as any[]) {
    assert.notEqual(g.Properties.LogGroupName, 'aws/spans');
  }
  // The only log group is Firehose's delivery-error log.
  assert.equal(Object.keys(staged.findResources('AWS::Logs::LogGroup')).length, 1);
  staged.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
});

test('exporter reads staging: XRAY_ARCHIVE_STAGING_URL, GetObject under aws-spans/, a prefix-bound ListBucket; no writes or deletes there', () => {
  assert.deepEqual(exporterEnv(staged).XRAY_ARCHIVE_STAGING_URL, { 'Fn::Join': ['', ['s3://', { Ref: STAGING }, '/aws-spans/']] });
  const all = exporterStatementsOf(staged);
  const onStaging = all.filter((s) => JSON.stringify(s.Resource).includes(STAGING));
  assert.deepEqual(onStaging, [
    { Sid: 'ReadStagedSpans', Effect: 'Allow', Action: 's3:GetObject', Resource: stagingObjects('aws-spans/') },
    { Sid: 'ListStagedSpans', Effect: 'Allow', Action: 's3:ListBucket', Resource: { 'Fn::GetAtt': [STAGING, 'Arn'] }, Condition: { StringLike: { 's3:prefix': 'aws-spans/*' } } },
  ]);
  for (const s of onStaging as any[]) {
    for (const a of [].concat(s.Action) as string[]) {
      assert.ok(!/^s3:(Put|Delete|Abort)/.test(a), `${a} on staging`);
    }
  }
  // The same rights as without staging otherwise, X-Ray's GetTraceSegmentDestination included.
  const actions = (t: any[]) => [...new Set(t.flatMap((s) => [].concat(s.Action) as string[]))].sort();
  assert.deepEqual(actions(all), actions(exporterStatements()));
  const xray = all.find((s) => s.Sid === 'ReadXRay');
  assert.ok(xray.Action.includes('xray:GetTraceSegmentDestination'));
  // The key is used through IAM as before; its policy and its Deny statements are unchanged.
  const keyPolicy = (t: Template) => (Object.values(t.findResources('AWS::KMS::Key')) as any[])[0].Properties.KeyPolicy;
  assert.deepEqual(keyPolicy(staged), keyPolicy(archive));
});

test('spans delivery alarm: delivery to S3 over 15 minutes behind notifies the alarm topic', () => {
  staged.hasResourceProperties('AWS::CloudWatch::Alarm', {
    Namespace: 'AWS/Firehose',
    MetricName: 'DeliveryToS3.DataFreshness',
    Dimensions: [{ Name: 'DeliveryStreamName', Value: { Ref: DELIVERY } }],
    Statistic: 'Maximum',
    Period: 3600,
    Threshold: 900,
    ComparisonOperator: 'GreaterThanThreshold',
    TreatMissingData: 'notBreaching',
    AlarmActions: [{ Ref: logicalId(staged, 'AWS::SNS::Topic') }],
  });
});

test('spansLogGroup none, the default: no staging bucket, stream, filter, roles or staging URL', () => {
  const none = synth({ 'xray-archive:spansLogGroup': 'none' }).archive;
  for (const t of [archive, none]) {
    t.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 0);
    t.resourceCountIs('AWS::Logs::SubscriptionFilter', 0);
    t.resourceCountIs('AWS::Logs::LogGroup', 0);
    t.resourceCountIs('AWS::S3::Bucket', 2);
    assert.equal(exporterEnv(t).XRAY_ARCHIVE_STAGING_URL, undefined);
    const services = Object.values(t.findResources('AWS::IAM::Role')).map((r: any) => JSON.stringify(r.Properties.AssumeRolePolicyDocument));
    assert.ok(!services.some((s) => s.includes('firehose.amazonaws.com') || s.includes('logs.amazonaws.com')), 'no staging roles');
    assert.equal(Object.keys(t.findResources('AWS::CloudWatch::Alarm', { Properties: { Namespace: 'AWS/Firehose' } })).length, 0, 'no delivery alarm');
  }
});

test('spansLogGroup: create is refused (CloudWatch Logs reserves aws/), any other value names the allowed ones', () => {
  assert.throws(() => synth({ 'xray-archive:spansLogGroup': 'create' }), /spansLogGroup must be existing or none, got create: CloudWatch Logs reserves log group names starting with aws\//);
  assert.throws(() => synth({ 'xray-archive:spansLogGroup': 'maybe' }), /context xray-archive:spansLogGroup must be existing or none, got "maybe"/);
  assert.throws(() => synth({ 'xray-archive:spansLogGroup': 'EXISTING' }), /must be existing or none/);
});
