#!/usr/bin/env node
// The xray-archive CDK app: the archive pipeline and the VaultLink payment core.
import { App } from 'aws-cdk-lib';
import { ArchiveStack } from '../lib/archive-stack';
import { readConfig } from '../lib/config';
import { PaymentCoreStack } from '../lib/payment-core-stack';

export function buildApp(app: App, baseDir: string): { archive: ArchiveStack; payments: PaymentCoreStack } {
  const config = readConfig(app.node, baseDir);
  const archive = new ArchiveStack(app, 'XrayArchive', { config });
  const payments = new PaymentCoreStack(app, 'VaultLinkPaymentCore', { config, alarmTopic: archive.alarmTopic });
  return { archive, payments };
}

if (require.main === module) {
  const app = new App();
  buildApp(app, process.cwd());
  app.synth();
}
