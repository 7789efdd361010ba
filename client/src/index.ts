export type { ReconnectOptions } from './backoff.js';
export { AgentComClient, connect } from './client.js';
export { AgentComError, type AgentComErrorCode, ClientErrorCode } from './errors.js';
export type * from './frames.js';
export type { ClientEvents, ClientOptions, Logger, Published, SendOptions, Sent } from './options.js';
export type { SocketFactory, SocketLike } from './socket.js';
export {
  type TaskContext,
  type TaskHandler,
  type TaskOutcome,
  type TaskOutcomeStatus,
  TaskWorker,
  type WorkerOptions,
} from './worker.js';
