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

/**
 * The user message types of a message map (control types starting with `$` excluded).
 *
 * The keys of a mapped type and `keyof M & string`, not `Exclude<Extract<keyof M, string>, …>`:
 * in a function generic over a schema that names a part (`<S extends { client: { say: … } }>`)
 * these hold `'say'` by the constraint, where the conditional types of `Exclude` and `Extract`
 * stay unresolved and take no name. The methods spell it out rather than name this alias, which
 * an error message would show in place of the names it allows.
 */
export type MessageType<M> = keyof UserKeys<M> & keyof M & string

/** The keys of `M` that are not control types (see `MessageType`). */
export type UserKeys<M> = { [P in keyof M as P extends `$${string}` ? never : P]: 0 }

/**
 * A payload argument and the arguments after it (`Rest`, optional ones): the payload itself is
 * optional where it may be `undefined` (a `void` or `undefined` payload, or `unknown` without a
 * schema), so that `send('typing')` and `request('ping')` need no `undefined` written out.
 */
export type PayloadArgs<T, Rest extends unknown[] = []> = undefined extends T
  ? [data?: T, ...rest: Rest]
  : [data: T, ...rest: Rest]

// Indexed, not inferred (`M[K] extends { request: infer R } ? R : never`): an `infer` stays
// unresolved for a schema that is a type parameter, so a function generic over a schema that
// names a method could neither pass its request nor read its response.
export type RequestOf<M, K extends keyof M> = (M[K] & { request: unknown })['request']
export type ResponseOf<M, K extends keyof M> = (M[K] & { response: unknown })['response']
