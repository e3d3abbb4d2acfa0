/** Bridges between face models' embedding spaces (`arcinvert bridge`). */
export {
  applyBridge,
  bridgeAgreement,
  fitLinearBridge,
  fitWithHeldOut,
  pickRows,
  type BridgeAgreement,
  type LinearBridge,
  type Rows,
} from './fit.js';
export { BRIDGE_BIN, BRIDGE_JSON, loadBridge, saveBridge, type BridgeEnd, type BridgeRecord } from './store.js';
