// Configuration of the app, read from cdk.json context (overridable with `-c key=value`).
import * as fs from 'fs';
import * as path from 'path';
import { Node } from 'constructs';

export type LockMode = 'COMPLIANCE' | 'GOVERNANCE';

/**
 * Where the exporter's span staging comes from (`xray-archive:spansLogGroup`):
 * - `existing`: CloudWatch Transaction Search is on, so the `aws/spans` log group exists;
 *   the stack subscribes a Firehose stream to it that fills the staging bucket.
 * - `none`: no staging at all (X-Ray only): no staging bucket, stream, filter or roles,
 *   and the exporter gets no staging URL.
 */
export type SpansLogGroup = 'existing' | 'none';
export const SPANS_LOG_GROUP_MODES: readonly SpansLogGroup[] = ['existing', 'none'];

export interface InfraConfig {
  /** Object Lock retention and object expiry, in years (default 7: financial record keeping). */
  readonly retentionYears: number;
  /** COMPLIANCE: nobody, root included, can shorten retention or delete. GOVERNANCE: holders of s3:BypassGovernanceRetention can. */
  readonly lockMode: LockMode;
  /** EventBridge Scheduler expression of the export (default hourly; a cron is read in UTC). */
  readonly scheduleCron: string;
  /** Email address subscribed to alarms (optional). */
  readonly alarmEmail?: string;
  /** Existing SNS topic for alarms (optional; otherwise one is created). */
  readonly alarmTopicArn?: string;
  /** Move archive objects to Glacier Deep Archive after this many days; 0 disables it. */
  readonly deepArchiveAfterDays: number;
  /**
   * Alarm when the export lags behind by more than this many hours. The lag is at least
   * SEAL_AFTER_DAYS by design, so the threshold must be above it, and well under 30 days.
   */
  readonly maxLagHours: number;
  /** Athena per-query scan cutoff in bytes. */
  readonly athenaBytesScannedCutoff: number;
  /** Directory holding the exporter Lambda's `bootstrap` (from the Rust build). */
  readonly exporterArtifact: string;
  /** Directory holding one subdirectory per payment-core Lambda, each with a `bootstrap`. */
  readonly paymentArtifacts: string;
  /** Prism's notification endpoint, for the delivery function. */
  readonly prismUrl: string;
  /** Stripe's API base URL. */
  readonly stripeApiBase: string;
  /**
   * Full ARN of an existing Secrets Manager secret holding the redaction hashing key
   * (XRAY_ARCHIVE_HASH_KEY); when absent, the stack creates one. The CLI must use the same key.
   */
  readonly hashKeySecretArn?: string;
  /**
   * The staging source of CloudWatch Transaction Search spans (`existing` or `none`, default
   * `none`). With Transaction Search on, X-Ray writes every span to the `aws/spans` log group
   * and BatchGetTraces sees only the few it indexes; `existing` subscribes Firehose to that
   * group so that every span lands under `aws-spans/` in a staging bucket the exporter reads
   * (XRAY_ARCHIVE_STAGING_URL). `aws/spans` must exist when the stack is deployed with
   * `existing`: only X-Ray creates it, when Transaction Search is switched on (CloudWatch Logs
   * refuses names starting with `aws/` to everyone else), so switch it on, then deploy.
   */
  readonly spansLogGroup: SpansLogGroup;
}

const PREFIX = 'xray-archive:';

/**
 * A UTC day is sealed (exported once, never rewritten) this many days after it ends: X-Ray
 * accepts segments up to 7 days late, plus a day of margin. X-Ray keeps traces 30 days, so
 * about 21 days remain to catch up after an outage.
 */
export const SEAL_AFTER_DAYS = 8;

export function readConfig(node: Node, baseDir: string): InfraConfig {
  const get = (key: string) => node.tryGetContext(PREFIX + key);
  const num = (key: string, min: number, max: number): number => {
    const v = Number(get(key));
    if (!Number.isFinite(v) || v < min || v > max) {
      throw new Error(`context ${PREFIX}${key} must be a number from ${min} to ${max}, got ${JSON.stringify(get(key))}`);
    }
    return v;
  };
  const lockMode = String(get('lockMode') ?? 'COMPLIANCE');
  if (lockMode !== 'COMPLIANCE' && lockMode !== 'GOVERNANCE') {
    throw new Error(`context ${PREFIX}lockMode must be COMPLIANCE or GOVERNANCE, got ${lockMode}`);
  }
  // Until the next day is sealed the watermark trails by up to SEAL_AFTER_DAYS + 1 days: a
  // lower threshold would keep the lag alarm on for good.
  const maxLagHours = num('maxLagHours', (SEAL_AFTER_DAYS + 2) * 24, 24 * 20);
  const spansLogGroup = String(get('spansLogGroup') ?? 'none');
  if (spansLogGroup === 'create') {
    // A stack cannot create the group ahead of the switch: CreateLogGroup refuses names
    // starting with `aws/`, and X-Ray makes `aws/spans` itself when Transaction Search is
    // switched on. The subscription can only follow the switch.
    throw new Error(
      `context ${PREFIX}spansLogGroup must be ${SPANS_LOG_GROUP_MODES.join(' or ')}, got create: CloudWatch Logs reserves log group names starting with aws/, ` +
        'so only X-Ray creates aws/spans, when Transaction Search is switched on. Switch it on, then deploy with existing.',
    );
  }
  if (!(SPANS_LOG_GROUP_MODES as readonly string[]).includes(spansLogGroup)) {
    throw new Error(`context ${PREFIX}spansLogGroup must be ${SPANS_LOG_GROUP_MODES.join(' or ')}, got ${JSON.stringify(get('spansLogGroup'))}`);
  }
  return {
    retentionYears: num('retentionYears', 1, 100),
    lockMode,
    scheduleCron: String(get('scheduleCron') ?? 'rate(1 hour)'),
    alarmEmail: get('alarmEmail') || undefined,
    alarmTopicArn: get('alarmTopicArn') || undefined,
    deepArchiveAfterDays: num('deepArchiveAfterDays', 0, 36500),
    maxLagHours,
    athenaBytesScannedCutoff: num('athenaBytesScannedCutoff', 10_000_000, 1e15),
    exporterArtifact: path.resolve(baseDir, String(get('exporterArtifact') ?? '../target/lambda/exporter')),
    paymentArtifacts: path.resolve(baseDir, String(get('paymentArtifacts') ?? '../target/lambda')),
    prismUrl: String(get('prismUrl') ?? 'https://prism.vaultlink.example/v2/notifications'),
    stripeApiBase: String(get('stripeApiBase') ?? 'https://api.stripe.com'),
    hashKeySecretArn: get('hashKeySecretArn') || undefined,
    spansLogGroup: spansLogGroup as SpansLogGroup,
  };
}

/** True when `dir/bootstrap` exists: the Rust build produced the Lambda. */
export function artifactBuilt(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'bootstrap'));
}
