/**
 * WebSocketConnection swaps EventEmitter's listener table for a fast-properties one (memory per
 * connection); the emitter must behave exactly as before.
 */
import { describe, expect, it } from 'vitest';
import { WebSocketConnection } from '../src/io/connection.js';
import type { Session } from '../src/io/session.js';

function connection(): WebSocketConnection {
  const fakeSession = { attach() {} } as unknown as Session;
  return new WebSocketConnection(fakeSession);
}

describe('WebSocketConnection events', () => {
  it('on, once, off, removeAllListeners, eventNames and listenerCount work as on any emitter', () => {
    const ws = connection();
    const seen: string[] = [];
    const onDrain = (): void => void seen.push('drain');
    ws.on('drain', onDrain);
    ws.once('drain', () => seen.push('once'));
    ws.on('pong', () => seen.push('pong'));
    expect(ws.eventNames()).toEqual(['drain', 'pong']);
    expect(ws.listenerCount('drain')).toBe(2);
    expect(ws.emit('drain')).toBe(true);
    expect(ws.emit('drain')).toBe(true);
    expect(seen).toEqual(['drain', 'once', 'drain']);
    ws.off('drain', onDrain);
    expect(ws.emit('drain')).toBe(false);
    expect(ws.eventNames()).toEqual(['pong']);
    ws.removeAllListeners();
    expect(ws.eventNames()).toEqual([]);
    expect(ws.emit('pong', Buffer.alloc(0))).toBe(false);
  });

  it('names of Object.prototype members have no listeners until added', () => {
    const ws = connection() as unknown as { emit(name: string): boolean; on(name: string, f: () => void): void; listenerCount(name: string): number };
    expect(ws.emit('constructor')).toBe(false);
    expect(ws.emit('toString')).toBe(false);
    expect(ws.listenerCount('hasOwnProperty')).toBe(0);
    let called = 0;
    ws.on('toString', () => called++);
    expect(ws.emit('toString')).toBe(true);
    expect(called).toBe(1);
  });

  it('an error event without a listener still throws', () => {
    const ws = connection();
    expect(() => ws.emit('error', new Error('boom'))).toThrow('boom');
  });
});
