import { proxyInfo } from './proxy-info.js';

describe('proxyInfo', () => {
  it('uses the host the admin request came in on when the proxy listens on every interface', () => {
    expect(proxyInfo({ host: '0.0.0.0', port: 8000 }, 'llm.example.com:8001')).toEqual({
      proxy_url: 'http://llm.example.com:8000',
      ollama_base_url: 'http://llm.example.com:8000',
      openai_base_url: 'http://llm.example.com:8000/v1',
      anthropic_base_url: 'http://llm.example.com:8000',
      admin_url: 'http://llm.example.com:8001',
    });
    expect(proxyInfo({ host: '::', port: 8000 }, '[::1]:8001').proxy_url).toBe('http://[::1]:8000');
  });

  it('uses PROXY_HOST when it names one address', () => {
    expect(proxyInfo({ host: '10.1.2.3', port: 9000 }, 'localhost:8001').proxy_url).toBe('http://10.1.2.3:9000');
    expect(proxyInfo({ host: '::1', port: 9000 }, 'localhost:8001').proxy_url).toBe('http://[::1]:9000');
  });

  it('falls back to 127.0.0.1 without a usable Host header', () => {
    expect(proxyInfo({ host: '0.0.0.0', port: 8000 }, undefined).proxy_url).toBe('http://127.0.0.1:8000');
    expect(proxyInfo({ host: '0.0.0.0', port: 8000 }, 'evil.com/path?x').proxy_url).toBe('http://127.0.0.1:8000');
  });
});
