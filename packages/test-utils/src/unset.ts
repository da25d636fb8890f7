/**
 * Every optional key of `T` given as `undefined`, as a project without
 * `exactOptionalPropertyTypes` (TypeScript's default) passes its own unset settings on
 * (`{ maxRetries: config.maxRetries }`). A type test checks that options take it:
 * `expectTypeOf<Unset<Options>>().toExtend<Options>()`, with required keys added as `& Pick<…>`.
 */
export type Unset<T> = {
  [K in keyof T as object extends Pick<T, K> ? K : never]: undefined
}

/**
 * `true` when `Listed` and `Required` name every key of `T`: a test that goes over a list of
 * options fails to compile once an option is added to `T` and not to its list.
 */
export type ListsEvery<T, Listed, Required = never> =
  Exclude<keyof T, Listed | Required> extends never ? true : false
