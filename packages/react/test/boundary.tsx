import { Component } from 'react'
import type { ReactNode } from 'react'

/**
 * An error boundary that keeps what it caught (`seen.error`), so that a test sees the error a
 * hook throws at render rather than React's report of an uncaught one.
 */
export function catching(): {
  Boundary: new (props: { children: ReactNode }) => Component<{ children: ReactNode }>
  seen: { error?: unknown }
} {
  const seen: { error?: unknown } = {}
  class Boundary extends Component<{ children: ReactNode }, { failed: boolean }> {
    override state = { failed: false }
    static getDerivedStateFromError() {
      return { failed: true }
    }
    override componentDidCatch(error: unknown) {
      seen.error = error
    }
    override render() {
      return this.state.failed ? null : this.props.children
    }
  }
  return { Boundary, seen }
}
