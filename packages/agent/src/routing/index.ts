export {
  ExecutorLostError,
  ExecutorStalledError,
  OfferDeclinedError,
  RemoteInferenceError,
  TaskProtocolError,
} from './errors.ts'
export { ExecutorHistory } from './executor-history.ts'
export { FrameChannel, type ReadFrame } from './frames.ts'
export { MeshChatBackend, type MeshChatInit } from './mesh-chat.ts'
export { OfferNonces } from './nonces.ts'
export { checkOffer, newNonce, type OfferCheck, type OfferContext, signOffer } from './offers.ts'
export { ROUTING_DEFAULTS, type RoutingOptions, routingOptions, stallAfterMs } from './options.ts'
export { type LocalCapacity, MeshRouter, type MeshRouterInit } from './router.ts'
export {
  type Candidate,
  type ChoicePrefs,
  chooseExecutor,
  type ExecutorChoice,
  needsOf,
  type ScoredCandidate,
  type TaskNeeds,
} from './scoring.ts'
export type { SettlementPort, WorkRef } from './settlement-port.ts'
export { type OfferRequest, type OfferResult, TaskClient, type TaskClientInit } from './task-client.ts'
export { TaskService, type TaskServiceInit } from './task-service.ts'
export { createRouting, type Routing, type RoutingInit } from './wiring.ts'
