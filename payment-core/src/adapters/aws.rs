//! The AWS adapters: the payments table on DynamoDB and the Prism queue on SQS, through the
//! official SDK clients (which honour `AWS_ENDPOINT_URL`).
//!
//! Table layout (one table, partition key `pk`, a string):
//! - `PAYMENT#<payment id>`: the payment's fields;
//! - `EVENT#<stripe event id>`: a processed webhook event, with its payment id.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::{
    MessageAttributeValue, MessageSystemAttributeName, MessageSystemAttributeNameForSends,
    MessageSystemAttributeValue, QueueAttributeName,
};

use crate::ports::{Call, Created, Payment, PaymentStore, PortError, Queue, QueueMessage, Status};

type HttpResponse = aws_sdk_dynamodb::config::http::HttpResponse;

/// Turns an SDK error into a [`PortError`] with the service's code, message, status and
/// request id (the DynamoDB and SQS crates share these types).
fn port_error<E>(
    service: &'static str,
    e: aws_sdk_dynamodb::error::SdkError<E, HttpResponse>,
) -> PortError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    use aws_sdk_dynamodb::error::ProvideErrorMetadata;
    use aws_sdk_dynamodb::operation::RequestId;
    let status = e.raw_response().map_or(0, |r| r.status().as_u16());
    PortError {
        service,
        kind: e.code().unwrap_or("TransportError").to_owned(),
        message: e
            .message()
            .map(str::to_owned)
            .unwrap_or_else(|| aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string()),
        status,
        request_id: e.request_id().map(str::to_owned),
    }
}

fn call(request_id: Option<&str>) -> Call {
    Call {
        request_id: request_id.map(str::to_owned),
        status: 200,
    }
}

/// The payments table on DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn get_s(item: &HashMap<String, AttributeValue>, k: &str) -> Option<String> {
    item.get(k).and_then(|v| v.as_s().ok()).cloned()
}

fn get_n(item: &HashMap<String, AttributeValue>, k: &str) -> Option<f64> {
    item.get(k)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
}

impl DynamoStore {
    /// Over `table`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: &str) -> Self {
        Self {
            client,
            table: table.to_owned(),
        }
    }

    /// Creates the table (on-demand, key `pk`) if it does not exist.
    pub async fn ensure_table(&self) -> Result<(), PortError> {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        };
        let exists = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .is_ok();
        if exists {
            return Ok(());
        }
        self.client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .expect("complete attribute definition"),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()
                    .expect("complete key schema"),
            )
            .send()
            .await
            .map_err(|e| port_error("DynamoDB", e))?;
        Ok(())
    }

    /// The table name (for `aws.table_name`).
    pub fn table(&self) -> &str {
        &self.table
    }

    fn item(p: &Payment) -> HashMap<String, AttributeValue> {
        let mut item = HashMap::from([
            ("pk".to_owned(), s(&format!("PAYMENT#{}", p.payment_id))),
            ("payment_id".to_owned(), s(&p.payment_id)),
            ("idempotency_key".to_owned(), s(&p.idempotency_key)),
            ("amount".to_owned(), AttributeValue::N(p.amount.to_string())),
            ("currency".to_owned(), s(&p.currency)),
            ("customer_hash".to_owned(), s(&p.customer_hash)),
            ("correlation_id".to_owned(), s(&p.correlation_id)),
            ("status".to_owned(), s(p.status.as_str())),
            (
                "created_at".to_owned(),
                AttributeValue::N(format!("{:.6}", p.created_at)),
            ),
        ]);
        if let Some(pi) = &p.intent_id {
            item.insert("intent_id".into(), s(pi));
        }
        item
    }

    fn payment(item: &HashMap<String, AttributeValue>) -> Option<Payment> {
        Some(Payment {
            payment_id: get_s(item, "payment_id")?,
            idempotency_key: get_s(item, "idempotency_key")?,
            amount: get_n(item, "amount")? as i64,
            currency: get_s(item, "currency")?,
            customer_hash: get_s(item, "customer_hash")?,
            correlation_id: get_s(item, "correlation_id")?,
            status: Status::parse(&get_s(item, "status")?)?,
            intent_id: get_s(item, "intent_id"),
            created_at: get_n(item, "created_at")?,
        })
    }
}

impl PaymentStore for DynamoStore {
    async fn create(&self, payment: &Payment) -> Result<(Created, Call), PortError> {
        use aws_sdk_dynamodb::operation::RequestId;
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(payment)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match res {
            Ok(out) => Ok((Created::New, call(out.request_id()))),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                let (existing, c) = self.get(&payment.payment_id).await?;
                let existing = existing.ok_or_else(|| PortError {
                    service: "DynamoDB",
                    kind: "ConditionalCheckFailedException".into(),
                    message: "payment exists but could not be read back".into(),
                    status: 400,
                    request_id: c.request_id.clone(),
                })?;
                Ok((Created::Existing(existing), c))
            }
            Err(e) => Err(port_error("DynamoDB", e)),
        }
    }

    async fn get(&self, payment_id: &str) -> Result<(Option<Payment>, Call), PortError> {
        use aws_sdk_dynamodb::operation::RequestId;
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&format!("PAYMENT#{payment_id}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error("DynamoDB", e))?;
        Ok((out.item().and_then(Self::payment), call(out.request_id())))
    }

    async fn settle(
        &self,
        payment_id: &str,
        status: Status,
        intent_id: &str,
    ) -> Result<(bool, Call), PortError> {
        use aws_sdk_dynamodb::operation::RequestId;
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&format!("PAYMENT#{payment_id}")))
            .update_expression("SET #s = :new, intent_id = :pi")
            .condition_expression("#s = :pending")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":new", s(status.as_str()))
            .expression_attribute_values(":pi", s(intent_id))
            .expression_attribute_values(":pending", s(Status::Pending.as_str()))
            .send()
            .await;
        match res {
            Ok(out) => Ok((true, call(out.request_id()))),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                let status = e.raw_response().map_or(400, |r| r.status().as_u16());
                Ok((
                    false,
                    Call {
                        request_id: e.request_id().map(str::to_owned),
                        status,
                    },
                ))
            }
            Err(e) => Err(port_error("DynamoDB", e)),
        }
    }

    async fn seen_event(&self, event_id: &str) -> Result<(bool, Call), PortError> {
        use aws_sdk_dynamodb::operation::RequestId;
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&format!("EVENT#{event_id}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error("DynamoDB", e))?;
        Ok((out.item().is_some(), call(out.request_id())))
    }

    async fn record_event(&self, event_id: &str, payment_id: &str) -> Result<Call, PortError> {
        use aws_sdk_dynamodb::operation::RequestId;
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(&format!("EVENT#{event_id}")))
            .item("payment_id", s(payment_id))
            .send()
            .await
            .map_err(|e| port_error("DynamoDB", e))?;
        Ok(call(out.request_id()))
    }
}

/// The Prism queue and its DLQ on SQS.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
    dlq_url: String,
}

impl SqsQueue {
    /// Over existing queues.
    pub fn new(client: aws_sdk_sqs::Client, url: &str, dlq_url: &str) -> Self {
        Self {
            client,
            url: url.to_owned(),
            dlq_url: dlq_url.to_owned(),
        }
    }

    /// Creates `name` and `name-dlq` with a redrive policy of `max_receives`, and returns
    /// the adapter over them.
    pub async fn ensure(
        client: aws_sdk_sqs::Client,
        name: &str,
        max_receives: u32,
    ) -> Result<Self, PortError> {
        let dlq = client
            .create_queue()
            .queue_name(format!("{name}-dlq"))
            .send()
            .await
            .map_err(|e| port_error("SQS", e))?;
        let dlq_url = dlq.queue_url().unwrap_or_default().to_owned();
        let arn = client
            .get_queue_attributes()
            .queue_url(&dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| port_error("SQS", e))?
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            .unwrap_or_default();
        let policy = serde_json::json!({"deadLetterTargetArn": arn, "maxReceiveCount": max_receives.to_string()});
        let main = client
            .create_queue()
            .queue_name(name)
            .attributes(QueueAttributeName::RedrivePolicy, policy.to_string())
            .attributes(QueueAttributeName::VisibilityTimeout, "30")
            .send()
            .await
            .map_err(|e| port_error("SQS", e))?;
        Ok(Self::new(
            client,
            main.queue_url().unwrap_or_default(),
            &dlq_url,
        ))
    }

    /// Receives from the main queue (what the Lambda event source mapping does).
    pub async fn receive(&self, max: u32, visibility: i32) -> Result<Vec<QueueMessage>, PortError> {
        receive(&self.client, &self.url, max, visibility)
            .await
            .map(|(m, _)| m)
    }

    /// Deletes a message of the main queue.
    pub async fn delete(&self, receipt: &str) -> Result<(), PortError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| port_error("SQS", e))?;
        Ok(())
    }
}

fn string_attr(v: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(v)
        .build()
        .expect("complete attribute")
}

async fn receive(
    client: &aws_sdk_sqs::Client,
    url: &str,
    max: u32,
    visibility: i32,
) -> Result<(Vec<QueueMessage>, Call), PortError> {
    use aws_sdk_sqs::operation::RequestId;
    let out = client
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(max.clamp(1, 10) as i32)
        .visibility_timeout(visibility)
        .message_attribute_names("All")
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .map_err(|e| port_error("SQS", e))?;
    let messages = out
        .messages()
        .iter()
        .map(|m| {
            let attr = |k: &str| {
                m.message_attributes()
                    .and_then(|a| a.get(k))
                    .and_then(|v| v.string_value())
                    .unwrap_or_default()
                    .to_owned()
            };
            let sys = |k: MessageSystemAttributeName| {
                m.attributes()
                    .and_then(|a| a.get(&k))
                    .cloned()
                    .unwrap_or_default()
            };
            QueueMessage {
                message_id: m.message_id().unwrap_or_default().to_owned(),
                body: m.body().unwrap_or_default().to_owned(),
                correlation_id: attr("CorrelationId"),
                payment_id: attr("PaymentId"),
                trace_header: sys(MessageSystemAttributeName::AwsTraceHeader),
                receipt: m.receipt_handle().unwrap_or_default().to_owned(),
                receive_count: sys(MessageSystemAttributeName::ApproximateReceiveCount)
                    .parse()
                    .unwrap_or(1),
            }
        })
        .collect();
    Ok((messages, call(out.request_id())))
}

impl Queue for SqsQueue {
    fn url(&self) -> String {
        self.url.clone()
    }

    fn dlq_url(&self) -> String {
        self.dlq_url.clone()
    }

    async fn send(&self, message: &QueueMessage) -> Result<(String, Call), PortError> {
        use aws_sdk_sqs::operation::RequestId;
        let out = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(&message.body)
            .message_attributes("CorrelationId", string_attr(&message.correlation_id))
            .message_attributes("PaymentId", string_attr(&message.payment_id))
            .message_system_attributes(
                MessageSystemAttributeNameForSends::AwsTraceHeader,
                MessageSystemAttributeValue::builder()
                    .data_type("String")
                    .string_value(&message.trace_header)
                    .build()
                    .expect("complete attribute"),
            )
            .send()
            .await
            .map_err(|e| port_error("SQS", e))?;
        Ok((
            out.message_id().unwrap_or_default().to_owned(),
            call(out.request_id()),
        ))
    }

    async fn receive_dlq(&self, max: u32) -> Result<(Vec<QueueMessage>, Call), PortError> {
        receive(&self.client, &self.dlq_url, max, 60).await
    }

    async fn delete_dlq(&self, receipt: &str) -> Result<Call, PortError> {
        use aws_sdk_sqs::operation::RequestId;
        let out = self
            .client
            .delete_message()
            .queue_url(&self.dlq_url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| port_error("SQS", e))?;
        Ok(call(out.request_id()))
    }
}
