// reconnecting-websocket ships CommonJS (`module.exports = ReconnectingWebSocket`) with types
// that declare an ES default export; under NodeNext the types and the runtime disagree on where
// the class is. At run time the default import is the class itself.
import ReconnectingWebSocketModule from 'reconnecting-websocket'

export const PeerReconnectingWebSocket =
  ReconnectingWebSocketModule as unknown as typeof ReconnectingWebSocketModule.default
