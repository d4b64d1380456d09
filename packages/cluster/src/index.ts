export { ClusterAdapter } from './adapter';
export { Failure, type Broker, type BrokerEvents, type BrokerLog, type BrokerSide, type LogOffset, type Publication } from './broker';
export { ENVELOPE_VERSION } from './envelope';
export { RemoteConnectionHandle } from './handles';
export { MemoryBroker, MemoryBus, type MemoryBrokerOptions } from './memory-broker';
export { brokerErrorCodes, ClusterErrorCode, type BrokerErrorCodes, type ClusterAdapterOptions, type ClusterAdapterStats } from './options';
