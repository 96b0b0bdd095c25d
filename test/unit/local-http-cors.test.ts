import { corsHeaders, preflightAnswer, type CorsConfiguration } from '../../local/http/cors';

/** The local HTTP API's CORS, as API Gateway applies an HTTP API's CorsConfiguration. */

const CORS: CorsConfiguration = { AllowOrigins: ['https://console.example.com'], AllowHeaders: ['authorization', 'content-type'], AllowMethods: ['GET', 'POST'], MaxAge: 600 };
const FROM = { origin: 'https://console.example.com' };

describe('preflightAnswer', () => {
  it('answers an allowed preflight itself, with the configuration', () => {
    expect(preflightAnswer(CORS, 'OPTIONS', { ...FROM, 'access-control-request-method': 'POST', 'access-control-request-headers': 'Authorization, Content-Type' })).toEqual({
      status: 204,
      headers: {
        'access-control-allow-origin': 'https://console.example.com',
        vary: 'origin',
        'access-control-allow-methods': 'GET,POST',
        'access-control-allow-headers': 'authorization,content-type',
        'access-control-max-age': '600',
      },
    });
  });

  it.each([
    ['another origin', { origin: 'https://evil.example.com', 'access-control-request-method': 'GET' }],
    ['a method not allowed', { ...FROM, 'access-control-request-method': 'DELETE' }],
    ['a header not allowed', { ...FROM, 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-secret' }],
  ])('gives no CORS headers for %s (the browser then refuses)', (_, headers) => {
    expect(preflightAnswer(CORS, 'OPTIONS', headers)).toEqual({ status: 204, headers: {} });
  });

  it('is not a preflight without origin and access-control-request-method, nor without CORS configured', () => {
    expect(preflightAnswer(CORS, 'OPTIONS', FROM)).toBeUndefined();
    expect(preflightAnswer(CORS, 'GET', { ...FROM, 'access-control-request-method': 'GET' })).toBeUndefined();
    expect(preflightAnswer(undefined, 'OPTIONS', { ...FROM, 'access-control-request-method': 'GET' })).toBeUndefined();
  });
});

describe('corsHeaders', () => {
  it('adds the origin for an allowed origin only', () => {
    expect(corsHeaders(CORS, FROM)).toEqual({ 'access-control-allow-origin': 'https://console.example.com', vary: 'origin' });
    expect(corsHeaders(CORS, { origin: 'https://evil.example.com' })).toEqual({});
    expect(corsHeaders(CORS, {})).toEqual({});
    expect(corsHeaders({ ...CORS, AllowOrigins: ['*'] }, { origin: 'https://any.example.com' })['access-control-allow-origin']).toBe('*');
  });
});
