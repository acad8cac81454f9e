// Reconnect backoff (js/backoff.js): waits grow and are capped, jitter stays below the bound,
// and only a connection that stayed up starts the count over. Clock and random are injected.
import assert from 'node:assert/strict';
import test from 'node:test';
import { Backoff } from '../../frontend/js/backoff.js';

const SETTINGS = { baseMs: 250, capMs: 10000, healthyAfterMs: 5000 };

function backoffWith({ random = () => 1 - Number.EPSILON, start = 1_000_000 } = {}) {
  const clock = { ms: start };
  const backoff = new Backoff({ ...SETTINGS, random, now: () => clock.ms });
  return { backoff, clock };
}

test('the bound doubles from the base and stops at the cap', () => {
  const { backoff } = backoffWith();
  const bounds = [];
  for (let i = 0; i < 9; i++) {
    bounds.push(backoff.ceiling());
    backoff.nextDelay();
  }
  assert.deepEqual(bounds, [250, 500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
  for (let i = 0; i < 100; i++) backoff.nextDelay();
  assert.equal(backoff.ceiling(), 10000, 'still capped after many retries');
  assert.ok(Number.isFinite(backoff.nextDelay()));
});

test('each wait is a random fraction of its bound (full jitter)', () => {
  const draws = [0, 0.5, 0.999];
  const { backoff } = backoffWith({ random: () => draws.shift() });
  assert.equal(backoff.nextDelay(), 0);
  assert.equal(backoff.nextDelay(), 250);
  const third = backoff.nextDelay();
  assert.ok(third < 1000 && third > 990, `${third}`);
});

test('the waits grow while connections keep failing', () => {
  const { backoff } = backoffWith();
  const delays = Array.from({ length: 7 }, () => backoff.nextDelay());
  for (let i = 1; i < delays.length; i++) assert.ok(delays[i] >= delays[i - 1], `${delays}`);
  assert.ok(delays.at(-1) <= SETTINGS.capMs);
});

test('a connection that stayed up starts the count over', () => {
  const { backoff, clock } = backoffWith();
  for (let i = 0; i < 5; i++) backoff.nextDelay();
  backoff.connected();
  clock.ms += SETTINGS.healthyAfterMs;
  backoff.closed();
  assert.equal(backoff.attempt, 0);
  assert.equal(backoff.ceiling(), SETTINGS.baseMs);
});

test('one that closed soon after connecting keeps backing off (no tight loop)', () => {
  const { backoff, clock } = backoffWith();
  for (let i = 0; i < 5; i++) backoff.nextDelay();
  backoff.connected();
  clock.ms += SETTINGS.healthyAfterMs - 1;
  backoff.closed();
  assert.equal(backoff.attempt, 5);
  backoff.closed();
  assert.equal(backoff.attempt, 5, 'a close with no connection in between changes nothing');
});

test('asking for a connection now starts the count over', () => {
  const { backoff } = backoffWith();
  for (let i = 0; i < 5; i++) backoff.nextDelay();
  backoff.reset();
  assert.equal(backoff.ceiling(), SETTINGS.baseMs);
});
