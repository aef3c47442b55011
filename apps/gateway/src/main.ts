import type winston from 'winston';
import { ConfigError, loadConfig, type AppConfig } from '@llmproxy/config';
import { startGateway } from './bootstrap.js';
import { createAppLogger } from './core/logger.js';

/** `node dist/apps/gateway/src/main.js`: validate config, migrate, serve both listeners until a signal. */
async function main(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`llmproxy: invalid configuration: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createAppLogger(config.logLevel);
  const gateway = await startGateway(config, logger).catch((error: unknown) => {
    console.error(`llmproxy: could not start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal} received, shutting down (grace ${config.shutdownGraceMs / 1000} s)`, { context: 'llmproxy' });
    // The grace period, the cut streams' last writes, the settlements, closing: well within 20 s more.
    const limitMs = config.shutdownGraceMs + 20_000;
    const force = setTimeout(() => {
      logger.error(`shutdown took longer than ${limitMs / 1000} s; exiting`, { context: 'llmproxy' });
      process.exit(1);
    }, limitMs);
    force.unref();
    gateway.close().then(
      async () => {
        logger.info('stopped', { context: 'llmproxy' });
        await flush(logger);
        process.exit(0);
      },
      (error: unknown) => {
        console.error(`llmproxy: shutdown failed: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** Resolves once the logger has handed everything to its transports (stdout). */
function flush(logger: winston.Logger): Promise<void> {
  return new Promise((resolve) => {
    logger.once('finish', () => resolve());
    logger.end();
    setTimeout(resolve, 1_000).unref();
  });
}

await main();
