export { nextEvent } from '@lifeline/core/testing'

export { until } from '@lifeline/test-utils/page'
