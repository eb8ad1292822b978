/**
 * The Order reference example, end to end: commands go through the repository to the event
 * store, events are published, and the aggregate is rebuilt from its history.
 *
 * Run it with `npm run example`.
 */
import {
  EventRegistry,
  InMemoryEventBus,
  InMemoryEventStore,
  isDomainRuleError,
  type StoredEvent,
} from 'annals';
import { orderEvents } from './events.js';
import { OrderCommandHandler } from './order-commands.js';

const log = (line = '') => console.log(line);
const describeEvent = (event: StoredEvent) =>
  `  v${event.version} ${event.type} ${JSON.stringify(event.payload)} (global #${event.globalPosition})`;

export async function main(): Promise<void> {
  const registry = new EventRegistry(orderEvents);
  const store = new InMemoryEventStore({ registry });
  const bus = new InMemoryEventBus();
  const published: string[] = [];
  bus.subscribe('*', (event) => {
    published.push(event.type);
  });
  const handler = new OrderCommandHandler(store, { bus });
  const orderId = 'order-1001';
  const correlationId = 'checkout-7f3a';

  log('annals: Order example (in-memory store)');
  log();
  log(`1. Command: create order ${orderId} for customer cust-42 with one line`);
  const created = await handler.createOrder(
    orderId,
    'cust-42',
    [{ productId: 'sku-keyboard', quantity: 1, price: 49.9 }],
    { commandId: 'cmd-1', correlationId },
  );
  for (const event of created.events) log(describeEvent(event));

  log('2. Command: add 2 x sku-mouse at 19.95');
  const added = await handler.addItem(
    orderId,
    { productId: 'sku-mouse', quantity: 2, price: 19.95 },
    {
      commandId: 'cmd-2',
      correlationId,
    },
  );
  for (const event of added.events) log(describeEvent(event));

  log('3. Command: add 0 x sku-cable (a business rule rejects it)');
  try {
    await handler.addItem(orderId, { productId: 'sku-cable', quantity: 0, price: 5 });
  } catch (error) {
    if (!isDomainRuleError(error)) throw error;
    log(`  rejected: ${error.message}`);
  }

  log('4. Command: ship the order');
  const shipped = await handler.shipOrder(orderId, 'DHL', 'JD0146000031', {
    commandId: 'cmd-3',
    correlationId,
  });
  for (const event of shipped.events) log(describeEvent(event));

  log('5. Command: add an item after shipping (rejected)');
  try {
    await handler.addItem(orderId, { productId: 'sku-late', quantity: 1, price: 1 });
  } catch (error) {
    if (!isDomainRuleError(error)) throw error;
    log(`  rejected: ${error.message}`);
  }

  log('6. Rebuild the order from its events');
  const history = await store.load(orderId);
  const order = await handler.orders.load(orderId);
  log(
    `  ${history.length} events -> status ${order.status}, ${order.items.length} lines, total ${order.totalAmount.toFixed(2)}`,
  );
  log(
    `  every event carries correlationId ${JSON.stringify(history.map((event) => event.metadata.correlationId)[0])}`,
  );
  log(`  published to the bus: ${published.join(', ')}`);
  log();
  log('Done.');
  await store.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
