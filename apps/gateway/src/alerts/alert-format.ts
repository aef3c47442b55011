import { createHmac } from 'node:crypto';
import type { AlertEvent, AlertFormat } from '@llmproxy/api-types';

/** Details an alert carries: names, ids, numbers, times — never a key, a password or a prompt. */
export type AlertDetails = Record<string, string | number | boolean | null>;

/** One event, as stored in `alert_deliveries.payload` and sent in the `json` format. */
export interface AlertMessage {
  event: AlertEvent;
  /** ISO 8601, when it happened. */
  at: string;
  /** One line for people (Slack's and Teams' text, the UI's list). */
  summary: string;
  details: AlertDetails;
}

export const SIGNATURE_HEADER = 'x-llmproxy-signature';
export const TIMESTAMP_HEADER = 'x-llmproxy-timestamp';

const TITLES: Record<AlertEvent, string> = {
  'key.quota_80': 'Key at 80 % of a limit',
  'key.quota_100': 'Key at its limit',
  'key.expiring': 'Key expires soon',
  'upstream.down': 'Ollama server down',
  'upstream.up': 'Ollama server back',
  'database.error': 'Database error',
  'database.recovered': 'Database back',
  test: 'Test alert',
};

/** The body for a webhook of the given format. */
export function formatBody(format: AlertFormat, message: AlertMessage): string {
  if (format === 'slack') return JSON.stringify(slackBody(message));
  if (format === 'teams') return JSON.stringify(teamsBody(message));
  return JSON.stringify({ event: message.event, at: message.at, summary: message.summary, ...message.details });
}

/** Slack incoming webhook: `text` (the notification's fallback) and Block Kit blocks. */
export function slackBody(message: AlertMessage): Record<string, unknown> {
  const title = `llmproxy: ${TITLES[message.event]}`;
  const facts = Object.entries(message.details).filter(([, value]) => value !== null);
  return {
    text: `${title}: ${message.summary}`,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: title } },
      { type: 'section', text: { type: 'mrkdwn', text: escapeSlack(message.summary) } },
      ...(facts.length > 0 ? [{ type: 'section', fields: facts.slice(0, 10).map(([name, value]) => ({ type: 'mrkdwn', text: `*${escapeSlack(name)}*\n${escapeSlack(String(value))}` })) }] : []),
      { type: 'context', elements: [{ type: 'mrkdwn', text: `${message.event} · ${message.at}` }] },
    ],
  };
}

/** Teams (Workflows "post to a channel when a webhook request is received", and incoming webhooks): a message with one Adaptive Card. */
export function teamsBody(message: AlertMessage): Record<string, unknown> {
  const facts = Object.entries(message.details).filter(([, value]) => value !== null);
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body: [
            { type: 'TextBlock', text: `llmproxy: ${TITLES[message.event]}`, weight: 'Bolder', size: 'Medium', wrap: true },
            { type: 'TextBlock', text: message.summary, wrap: true },
            { type: 'FactSet', facts: [{ title: 'event', value: message.event }, { title: 'at', value: message.at }, ...facts.map(([title, value]) => ({ title, value: String(value) }))] },
          ],
        },
      },
    ],
  };
}

/**
 * `sha256=<hex>` of HMAC-SHA256(secret, `<timestamp>.<body>`): the timestamp header is part of
 * what is signed, so a receiver that refuses old timestamps (say, older than 5 minutes) cannot be
 * replayed a captured delivery.
 */
export function signature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
