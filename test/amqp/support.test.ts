import amqplib from 'amqplib';
import { expect, it } from 'vitest';
import { closeConnectionsNamed, describeWithRabbit, rabbitmqctl, useRabbitVhost } from './support.js';

const rabbit = useRabbitVhost();

describeWithRabbit('test/amqp/support: a vhost per file', () => {
  it('creates the vhost, lets guest in, and closes connections by name', async () => {
    expect(await rabbitmqctl('list_vhosts')).toContain(rabbit.vhost);
    const connection = await amqplib.connect(rabbit.url, {
      clientProperties: { connection_name: 'support-test' },
    });
    const closed = new Promise<Error | undefined>((resolve) => connection.on('close', resolve));
    connection.on('error', () => undefined);
    const channel = await connection.createChannel();
    await channel.assertQueue('q', { durable: false });
    expect(await closeConnectionsNamed('support-test', { vhost: rabbit.vhost })).toBe(1);
    expect(String(await closed)).toContain('CONNECTION_FORCED');
  });
});
