import { InMemoryEventStore } from 'annals';
import { describeEventStoreContract } from 'annals/testing';

describeEventStoreContract('InMemoryEventStore', {
  createStore: (registry) => new InMemoryEventStore({ registry }),
});
