import { InMemoryProcessedEventStore } from 'annals';
import { describeProcessedEventStoreContract } from 'annals/testing';

describeProcessedEventStoreContract('InMemoryProcessedEventStore', {
  createStore: () => new InMemoryProcessedEventStore(),
});
