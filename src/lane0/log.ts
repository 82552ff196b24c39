// Structured logging: components take a pino Logger and make one child per module; the
// default is silent so that unit tests and embedded use print nothing.
import { type Logger, pino } from 'pino'

export type { Logger }

export const silentLogger: Logger = pino({ level: 'silent' })
