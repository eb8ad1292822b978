import { InMemoryProcessedEventStore } from 'annals';
import { describeProcessedEventStoreContract } from './processed-event-store-contract.js';

describeProcessedEventStoreContract(
  'InMemoryProcessedEventStore',
  async () => new InMemoryProcessedEventStore(),
);
