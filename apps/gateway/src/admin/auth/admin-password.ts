import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AppConfig } from '@llmproxy/config';

/**
 * ADMIN_PASSWORD, kept only as its digest. Both sides are hashed before comparing, so the comparison
 * is constant-time whatever the lengths (timingSafeEqual needs equal lengths).
 */
@Injectable()
export class AdminPassword {
  private readonly expected: Buffer;

  constructor(config: ConfigService<AppConfig, true>) {
    this.expected = digest(config.get('adminPassword', { infer: true }));
  }

  matches(candidate: string): boolean {
    return timingSafeEqual(digest(candidate), this.expected);
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
