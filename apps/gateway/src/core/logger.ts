import type { LoggerService, LogLevel } from '@nestjs/common';
import winston from 'winston';

/** The process's one operational logger (stdout). Usage records go to the rotating usage log instead. */
export function createAppLogger(level: string): winston.Logger {
  return winston.createLogger({
    level,
    format: winston.format.combine(
      winston.format.timestamp(),
      winston.format.printf(({ timestamp, level, message, context, ...rest }) => {
        const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
        return `${String(timestamp)} ${level.toUpperCase().padEnd(5)} [${String(context ?? 'llmproxy')}] ${String(message)}${extra}`;
      }),
    ),
    transports: [new winston.transports.Console()],
  });
}

/**
 * Nest's framework logs through the same winston logger. Its `log` level (route mapping, module
 * initialisation: a hundred lines per start) is debug here; warnings and errors stay.
 */
export class NestWinstonLogger implements LoggerService {
  constructor(private readonly logger: winston.Logger) {}

  log(message: unknown, context?: string): void {
    this.logger.debug(String(message), { context });
  }
  error(message: unknown, trace?: string, context?: string): void {
    this.logger.error(String(message), { context, ...(trace ? { stack: trace } : {}) });
  }
  warn(message: unknown, context?: string): void {
    this.logger.warn(String(message), { context });
  }
  debug(message: unknown, context?: string): void {
    this.logger.debug(String(message), { context });
  }
  verbose(message: unknown, context?: string): void {
    this.logger.debug(String(message), { context });
  }
  setLogLevels(_levels: LogLevel[]): void {}
}
