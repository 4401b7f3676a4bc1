// The VaultLink payment core, as the tracing design note describes it: API Gateway, four
// traced Lambdas (one `vaultlink` binary; VAULTLINK_HANDLER picks the function), DynamoDB,
// the Prism queue with its DLQ, sampling rules and alarms. The secrets STRIPE_API_KEY,
// STRIPE_WEBHOOK_SECRET and CUSTOMER_HASH_KEY are set on the functions after deployment,
// never in a template.
import * as path from 'path';
import { Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as xray from 'aws-cdk-lib/aws-xray';
import { Construct } from 'constructs';
import { InfraConfig } from './config';
import { rustCode } from './lambda-code';

/** Receives per message before SQS moves it to the DLQ. */
export const MAX_RECEIVE_COUNT = 5;

export interface PaymentCoreStackProps extends StackProps {
  readonly config: InfraConfig;
  readonly alarmTopic: sns.ITopic;
}

export class PaymentCoreStack extends Stack {
  constructor(scope: Construct, id: string, props: PaymentCoreStackProps) {
    super(scope, id, props);
    const c = props.config;

    const table = new dynamodb.Table(this, 'Payments', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const dlq = new sqs.Queue(this, 'PrismDeliveryDlq', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    const queue = new sqs.Queue(this, 'PrismDelivery', {
      visibilityTimeout: Duration.seconds(60),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: dlq, maxReceiveCount: MAX_RECEIVE_COUNT },
    });

    const fn = (id: string, name: string, description: string, handler: string) =>
      new lambda.Function(this, id, {
        description,
        runtime: lambda.Runtime.PROVIDED_AL2023,
        architecture: lambda.Architecture.X86_64,
        handler: 'bootstrap',
        code: rustCode(this, path.join(c.paymentArtifacts, name)),
        tracing: lambda.Tracing.ACTIVE,
        timeout: Duration.seconds(10),
        memorySize: 256,
        environment: {
          AWS_XRAY_TRACING_NAME: description.split(':')[0],
          VAULTLINK_HANDLER: handler,
          PAYMENTS_TABLE: table.tableName,
          PRISM_QUEUE_URL: queue.queueUrl,
          PRISM_DLQ_URL: dlq.queueUrl,
          PRISM_MAX_RECEIVES: String(MAX_RECEIVE_COUNT),
          PRISM_URL: c.prismUrl,
          STRIPE_API_BASE: c.stripeApiBase,
        },
      });
    const create = fn('CreatePayment', 'create-payment', 'VaultLink-PaymentService: POST /payments', 'api');
    const webhook = fn('StripeWebhook', 'stripe-webhook', 'VaultLink-WebhookService: POST /webhooks/stripe', 'api');
    const delivery = fn('PrismDeliveryFn', 'prism-delivery', 'VaultLink-PrismDelivery: delivers payment updates to Prism', 'delivery');
    const replay = fn('DlqReplay', 'dlq-replay', 'VaultLink-DlqReplay: moves Prism DLQ messages back to the queue', 'replay');
    dlq.grantConsumeMessages(replay);
    queue.grantSendMessages(replay);
    table.grantReadWriteData(create);
    table.grantReadWriteData(webhook);
    queue.grantSendMessages(webhook);
    delivery.addEventSource(new SqsEventSource(queue, { batchSize: 10, reportBatchItemFailures: true }));

    const api = new apigw.RestApi(this, 'Api', {
      restApiName: 'vaultlink-api',
      deployOptions: { stageName: 'prod', tracingEnabled: true },
    });
    api.root.addResource('payments').addMethod('POST', new apigw.LambdaIntegration(create));
    api.root.addResource('webhooks').addResource('stripe').addMethod('POST', new apigw.LambdaIntegration(webhook));
    api.root.addResource('health').addMethod('GET', new apigw.LambdaIntegration(create));

    // Sampling rules from the design note. Lower priority numbers are matched first.
    const rule = (id: string, name: string, priority: number, urlPath: string, fixedRate: number, reservoirSize: number) =>
      new xray.CfnSamplingRule(this, id, {
        samplingRule: {
          ruleName: name,
          priority,
          fixedRate,
          reservoirSize,
          host: '*',
          httpMethod: '*',
          urlPath,
          serviceName: '*',
          serviceType: '*',
          resourceArn: '*',
          version: 1,
        },
      });
    rule('SampleHealth', 'vaultlink-health', 10, '/health', 0, 0);
    rule('SamplePayments', 'vaultlink-payments', 20, '/payments*', 1, 1);
    rule('SampleWebhooks', 'vaultlink-webhooks', 30, '/webhooks/*', 1, 1);
    rule('SampleBackground', 'vaultlink-background', 40, '/jobs/*', 0.1, 0);

    const group = new xray.CfnGroup(this, 'VaultLinkGroup', {
      groupName: 'vaultlink',
      filterExpression: 'service("VaultLink-PaymentService") OR service("VaultLink-WebhookService") OR service("VaultLink-PrismDelivery")',
      insightsConfiguration: { insightsEnabled: true, notificationsEnabled: false },
    });

    const notify = (a: cloudwatch.Alarm) => a.addAlarmAction(new actions.SnsAction(props.alarmTopic));
    notify(
      webhook.metricErrors({ period: Duration.minutes(5) }).createAlarm(this, 'WebhookErrors', {
        threshold: 0,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: 'Stripe webhook Lambda errors above 0 in 5 minutes',
      }),
    );
    notify(
      dlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }).createAlarm(this, 'PrismDlqDepth', {
        threshold: 5,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: 'Prism delivery DLQ holds more than 5 messages',
      }),
    );
    const errorRate = new cloudwatch.Alarm(this, 'XRayErrorRate', {
      metric: new cloudwatch.Metric({
        namespace: 'AWS/X-Ray',
        metricName: 'ErrorRate',
        dimensionsMap: { GroupName: 'vaultlink' },
        statistic: 'Average',
        period: Duration.minutes(10),
      }),
      threshold: 0.01,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: 'X-Ray error rate above 1% over 10 minutes',
    });
    errorRate.node.addDependency(group);
    notify(errorRate);
  }
}
