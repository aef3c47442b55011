/** What the data plane knows about a key after looking it up: no secret, no hash. */
export interface ApiKeyRecord {
  id: number;
  name: string;
  isActive: boolean;
  expiresAt: Date | null;
  /** null = every model. */
  allowedModels: string[] | null;
  maxConcurrent: number | null;
  /** Turns per round in the fair queue (default 1). */
  queueWeight?: number;
  limits: QuotaLimits;
}

/** Each null = unlimited. */
export interface QuotaLimits {
  dailyTokens: number | null;
  monthlyTokens: number | null;
  dailyRequests: number | null;
  monthlyRequests: number | null;
}
