// Errors of the scheduler: invalid lane transitions and unusable chain parameters.

export type SchedulerErrorCode = 'INVALID_TRANSITION' | 'INVALID_CHAIN_INFO' | 'NOT_STARTED'

export class SchedulerError extends Error {
  override readonly name = 'SchedulerError'
  constructor(
    readonly code: SchedulerErrorCode,
    message: string,
  ) {
    super(message)
  }
}
