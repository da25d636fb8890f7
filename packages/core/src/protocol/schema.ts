/** An RPC method: what the caller sends and what the callee answers. */
export interface RpcMethod<Request = unknown, Response = unknown> {
  request: Request
  response: Response
}

/**
 * The one type that describes a Lifeline application, shared by client and server so that a
 * message type or payload that does not match is a compile error on both sides.
 *
 * ```ts
 * interface Chat {
 *   client: { say: { room: string; text: string } }            // client -> server messages
 *   server: { said: { room: string; text: string; from: string } } // server -> client messages
 *   rpc: { history: RpcMethod<{ room: string }, string[]> }    // methods the server implements
 *   clientRpc: { confirm: RpcMethod<{ question: string }, boolean> } // methods the client implements
 * }
 * ```
 *
 * Message types must not start with `$` (reserved for control frames).
 */
export interface Schema {
  client?: object
  server?: object
  rpc?: object
  clientRpc?: object
}

/** A schema that allows every type with unknown payloads: what you get without one. */
export interface AnySchema {
  client: Record<string, unknown>
  server: Record<string, unknown>
  rpc: Record<string, RpcMethod>
  clientRpc: Record<string, RpcMethod>
}

// Optional parts (`client?:`, as `Schema` declares them) count: their `undefined` is dropped.
type Part<S, K extends keyof Schema> = S extends { [P in K]?: infer M }
  ? M & {} extends infer N extends object
    ? N
    : Record<never, never>
  : Record<never, never>

/** Messages the client sends to the server. */
export type ClientMessages<S extends Schema> = Part<S, 'client'>
/** Messages the server sends to the client. */
export type ServerMessages<S extends Schema> = Part<S, 'server'>
/** Methods the server implements. */
export type ServerMethods<S extends Schema> = Part<S, 'rpc'>
/** Methods the client implements. */
export type ClientMethods<S extends Schema> = Part<S, 'clientRpc'>

/** The user message types of a message map (control types starting with `$` excluded). */
export type MessageType<M> = Exclude<Extract<keyof M, string>, `$${string}`>

/**
 * A payload argument and the arguments after it (`Rest`, optional ones): the payload itself is
 * optional where it may be `undefined` (a `void` or `undefined` payload, or `unknown` without a
 * schema), so that `send('typing')` and `request('ping')` need no `undefined` written out.
 */
export type PayloadArgs<T, Rest extends unknown[] = []> = undefined extends T
  ? [data?: T, ...rest: Rest]
  : [data: T, ...rest: Rest]

export type RequestOf<M, K extends keyof M> = M[K] extends { request: infer R } ? R : never
export type ResponseOf<M, K extends keyof M> = M[K] extends { response: infer R } ? R : never
