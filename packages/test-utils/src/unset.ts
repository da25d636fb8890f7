/**
 * Every optional key of `T` given as `undefined`, as a project without
 * `exactOptionalPropertyTypes` (TypeScript's default) passes its own unset settings on
 * (`{ maxRetries: config.maxRetries }`). A type test checks that options take it:
 * `expectTypeOf<Unset<Options>>().toExtend<Options>()`, with required keys added as `& Pick<…>`.
 */
export type Unset<T> = {
  [K in keyof T as object extends Pick<T, K> ? K : never]: undefined
}
