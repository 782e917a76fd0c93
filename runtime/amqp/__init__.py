"""The RabbitMQ (AMQP 0-9-1) broker adapter, on pika (docs/transports.md)."""
