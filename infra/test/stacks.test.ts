// Assertions on the synthesized templates: every item the deployment promises, including
// the negative ones (no wildcard actions on the archive, public access blocked, Object Lock).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
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
  return { archive: Template.fromStack(archive), payments: Template.fromStack(payments) };
}

const { archive, payments } = synth();
const DAYS = 7 * 366;

function statements(t: Template): any[] {
  return Object.values(t.findResources('AWS::IAM::Policy')).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
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
    const deny = p.Properties.PolicyDocument.Statement.find((s: any) => s.Effect === 'Deny');
    assert.deepEqual(deny.Condition, { Bool: { 'aws:SecureTransport': 'false' } });
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

test('exporter Lambda: provided.al2023 on x86_64, one at a time, nightly schedule, failure queue', () => {
  archive.hasResourceProperties('AWS::Lambda::Function', {
    Runtime: 'provided.al2023',
    Architectures: ['x86_64'],
    Handler: 'bootstrap',
    ReservedConcurrentExecutions: 1,
    Timeout: 900,
    MemorySize: 1024,
    DeadLetterConfig: { TargetArn: Match.anyValue() },
  });
  archive.hasResourceProperties('AWS::Scheduler::Schedule', {
    ScheduleExpression: 'cron(30 2 * * ? *)',
    ScheduleExpressionTimezone: 'UTC',
    Target: Match.objectLike({ DeadLetterConfig: { Arn: Match.anyValue() }, RetryPolicy: { MaximumRetryAttempts: 2 } }),
  });
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
  assert.deepEqual([...write.Action].sort(), ['s3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject', 's3:PutObjectLegalHold', 's3:PutObjectRetention']);
  const resources = JSON.stringify(write.Resource);
  for (const prefix of ['/v1/*', '/_manifests/*', '/_state/*', '/_quarantine/*']) {
    assert.ok(resources.includes(prefix), `${prefix} in ${resources}`);
  }
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
  archive.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'LagHours', Namespace: 'XrayArchive', Threshold: 72 });
  archive.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'DaysUntilExpiry', Threshold: 7, ComparisonOperator: 'LessThanThreshold' });
  archive.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Throttles', Namespace: 'XrayArchive' });
  for (const a of Object.values(archive.findResources('AWS::CloudWatch::Alarm')) as any[]) {
    assert.equal(a.Properties.AlarmActions.length, 1);
  }
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
