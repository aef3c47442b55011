import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { auditActor } from '@llmproxy/audit';

/**
 * Runs each admin request in an audit scope of its own, which the guard fills with the account it
 * let in (libs/audit's auditActor). A module middleware, so it runs after the body parser: what runs
 * from `next` — guard, pipes, handler, services — is inside the scope, until the response has ended.
 */
@Injectable()
export class AuditScopeMiddleware implements NestMiddleware {
  use(_request: Request, response: Response, next: NextFunction): void {
    // 'close' comes once the response is sent or the client went away: the request's work is over.
    const close = auditActor.enter(next);
    response.once('close', close);
  }
}
