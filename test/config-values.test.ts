import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  parseDuration,
  parseEnum,
  parseFlag,
  parseInteger,
  parseListen,
  parsePositiveNumber,
  parseSize,
  ValueError,
} from '../src/config/values';

function rejects(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: unknown) => err instanceof ValueError && err.message === message);
}

describe('sizes', () => {
  it('reads bare bytes and K, M, G with or without B, in any case', () => {
    assert.equal(parseSize('4096'), 4096);
    assert.equal(parseSize('512K'), 512 * 1024);
    assert.equal(parseSize('512kb'), 512 * 1024);
    assert.equal(parseSize('64MB'), 64 * 1024 * 1024);
    assert.equal(parseSize('64M'), 64 * 1024 * 1024);
    assert.equal(parseSize('1G'), 1024 ** 3);
    assert.equal(parseSize('1.5K'), 1536);
    assert.equal(parseSize('10B'), 10);
  });

  it('reads unlimited only when the directive gives it a meaning', () => {
    assert.equal(parseSize('unlimited', Infinity), Infinity);
    assert.equal(parseSize('Unlimited', 0), 0);
    rejects(() => parseSize('unlimited'), 'must be a size such as 4096, 512K, 64MB or 1G (got "unlimited")');
  });

  it('rejects other units and signs', () => {
    rejects(() => parseSize('12Q'), 'must be a size such as 4096, 512K, 64MB or 1G (got "12Q")');
    rejects(() => parseSize('-1K', 0), 'must be a size such as 4096, 512K, 64MB, 1G or unlimited (got "-1K")');
    rejects(() => parseSize(''), 'must be a size such as 4096, 512K, 64MB or 1G (got "")');
  });
});

describe('durations', () => {
  it('takes a bare number as seconds, as Apache does', () => {
    assert.equal(parseDuration('30'), 30_000);
    assert.equal(parseDuration('0'), 0);
  });

  it('reads ms, s, sec(s), min(s), h and day(s)', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('30sec'), 30_000);
    assert.equal(parseDuration('30secs'), 30_000);
    assert.equal(parseDuration('5min'), 300_000);
    assert.equal(parseDuration('5mins'), 300_000);
    assert.equal(parseDuration('2h'), 7_200_000);
    assert.equal(parseDuration('1day'), 86_400_000);
    assert.equal(parseDuration('2days'), 172_800_000);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('10MS'), 10);
  });

  it('rejects unknown units, negative values, zero where positive, and overlong timers', () => {
    const such = 'must be a duration such as 30, 30s, 500ms, 5min, 2h or 1day';
    rejects(() => parseDuration('5parsecs'), `${such} (got "5parsecs")`);
    rejects(() => parseDuration('-5'), `${such} (got "-5")`);
    rejects(() => parseDuration('5m'), `${such} (got "5m")`);
    rejects(() => parseDuration('0', { positive: true }), 'must be longer than 0 (got "0")');
    rejects(() => parseDuration('30days'), 'must be at most 2147483647ms, the longest timer Node supports (got "30days")');
  });
});

describe('integers', () => {
  it('accepts the range and nothing else', () => {
    assert.equal(parseInteger('20', { min: 1, max: 20 }), 20);
    assert.equal(parseInteger('+3', { min: 1 }), 3);
    rejects(() => parseInteger('21', { min: 1, max: 20 }), 'must be an integer from 1 to 20 (got "21")');
    rejects(() => parseInteger('-1', { min: 1 }), 'must be a positive integer (got "-1")');
    rejects(() => parseInteger('1.5', { min: 0 }), 'must be a non-negative integer (got "1.5")');
    rejects(() => parseInteger('12abc', { min: 5 }), 'must be an integer of at least 5 (got "12abc")');
  });

  it('maps unlimited to the number the directive says', () => {
    assert.equal(parseInteger('unlimited', { min: 0, unlimited: 0 }), 0);
    rejects(() => parseInteger('lots', { min: 0, unlimited: 0 }), 'must be a non-negative integer or unlimited (got "lots")');
    rejects(() => parseInteger('unlimited', { min: 0 }), 'must be a non-negative integer (got "unlimited")');
  });
});

describe('flags, enums and decimals', () => {
  it('reads On and Off in any case', () => {
    assert.equal(parseFlag('On'), true);
    assert.equal(parseFlag('off'), false);
    assert.equal(parseFlag('ON'), true);
    rejects(() => parseFlag('yes'), 'must be On or Off (got "yes")');
  });

  it('reads enums in any case and names the choices', () => {
    assert.equal(parseEnum('Worker', ['prefork', 'worker']), 'worker');
    rejects(() => parseEnum('apache', ['prefork', 'worker']), 'must be one of prefork, worker (got "apache")');
    rejects(() => parseEnum('loud', ['warn', 'info'], 'level'), 'unknown level "loud" (levels: warn, info)');
  });

  it('reads positive decimals', () => {
    assert.equal(parsePositiveNumber('1.5'), 1.5);
    assert.equal(parsePositiveNumber('2'), 2);
    rejects(() => parsePositiveNumber('0'), 'must be a number greater than 0 (got "0")');
    rejects(() => parsePositiveNumber('1e3'), 'must be a number greater than 0 (got "1e3")');
  });
});

describe('Listen', () => {
  it('reads a bare port as every IPv4 address', () => {
    assert.deepEqual(parseListen('8080'), { host: '0.0.0.0', port: 8080, protocol: 'http', text: '8080' });
    assert.deepEqual(parseListen('*:80'), { host: '0.0.0.0', port: 80, protocol: 'http', text: '*:80' });
  });

  it('reads IPv4, bracketed IPv6 and host names', () => {
    assert.deepEqual(parseListen('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080, protocol: 'http', text: '127.0.0.1:8080' });
    assert.deepEqual(parseListen('[::1]:8080'), { host: '::1', port: 8080, protocol: 'http', text: '[::1]:8080' });
    assert.deepEqual(parseListen('[::]:80'), { host: '::', port: 80, protocol: 'http', text: '[::]:80' });
    assert.equal(parseListen('localhost:81').host, 'localhost');
  });

  it('defaults the protocol to https on 443 only, and takes it in any case', () => {
    assert.equal(parseListen('443').protocol, 'https');
    assert.equal(parseListen('8443', 'HTTPS').protocol, 'https');
    assert.equal(parseListen('443', 'http').protocol, 'http');
    assert.equal(parseListen('8443', 'https').text, '8443 https');
  });

  it('rejects bad addresses, ports and protocols', () => {
    const form = 'must be [address:]port such as 8080, 127.0.0.1:8080 or [::1]:8080';
    rejects(() => parseListen('::1:8080'), `${form} (got "::1:8080")`);
    rejects(() => parseListen('http://x:80'), `${form} (got "http://x:80")`);
    rejects(() => parseListen('99999'), 'port must be from 1 to 65535 (got "99999")');
    rejects(() => parseListen('0'), 'port must be from 1 to 65535 (got "0")');
    rejects(() => parseListen('[1.2.3.4]:80'), '"1.2.3.4" is not an IPv6 address');
    rejects(() => parseListen('300.1.1.1:80'), '"300.1.1.1" is not an IPv4 address');
    rejects(() => parseListen('80', 'ftp'), 'must be one of http, https (got "ftp")');
  });
});
