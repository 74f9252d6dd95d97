import { describe, expect, it } from 'vitest';

import {
  PEER_RANGE,
  UPLINK_RANGE,
  cidrsOverlap,
  findRouteConflict,
  formatIpv4,
  inCidr,
  lanCidrs,
  linkAddresses,
  parseIpv4,
  pickSlot,
} from './addresses.js';

describe('address plan', () => {
  it('parses and formats IPv4', () => {
    expect(parseIpv4('10.213.1.2')).toBe(0x0ad50102);
    expect(formatIpv4(0x0ad50102)).toBe('10.213.1.2');
    expect(parseIpv4('256.1.1.1')).toBeUndefined();
    expect(parseIpv4('1.2.3')).toBeUndefined();
    expect(formatIpv4(0xffffffff)).toBe('255.255.255.255');
  });

  it('cuts a /16 into /30 links: host end +1, environment end +2', () => {
    expect(linkAddresses(UPLINK_RANGE, 1)).toEqual({
      slot: 1,
      network: '10.213.0.4',
      first: '10.213.0.5',
      second: '10.213.0.6',
      prefix: 30,
    });
    expect(linkAddresses(UPLINK_RANGE, 16383).second).toBe('10.213.255.254');
    expect(() => linkAddresses(UPLINK_RANGE, 16384)).toThrow(RangeError);
    expect(linkAddresses(PEER_RANGE, 2).first).toBe('10.214.0.9');
  });

  it('tests membership and overlap', () => {
    expect(inCidr('10.213.9.9', '10.213.0.0', 16)).toBe(true);
    expect(inCidr('10.214.0.1', '10.213.0.0', 16)).toBe(false);
    expect(cidrsOverlap('10.0.0.0', 8, '10.213.0.0', 16)).toBe(true);
    expect(cidrsOverlap('192.0.2.0', 24, '10.213.0.0', 16)).toBe(false);
  });

  it('finds host routes that collide with the plan, ignoring its own devices', () => {
    const routes = [
      { dst: 'default', dev: 'eth0' },
      { dst: '192.0.2.0/24', dev: 'eth0' },
      { dst: '10.213.0.4/30', dev: 'virtos-0a1b2c3d' },
    ];
    expect(findRouteConflict(routes, UPLINK_RANGE)).toBeUndefined();
    expect(
      findRouteConflict([...routes, { dst: '10.0.0.0/8', dev: 'wg0' }], UPLINK_RANGE)?.dst,
    ).toBe('10.0.0.0/8');
    expect(findRouteConflict([{ dst: '10.213.7.7', dev: 'tun0' }], UPLINK_RANGE)?.dst).toBe(
      '10.213.7.7',
    );
  });

  it('lists the host LANs (scope link), not default routes or VirtOS links', () => {
    expect(
      lanCidrs([
        { dst: 'default', dev: 'eth0' },
        { dst: '192.0.2.0/24', dev: 'eth0', scope: 'link' },
        { dst: '10.213.0.4/30', dev: 'virtos-0a1b2c3d', scope: 'link' },
        { dst: '203.0.113.9', dev: 'eth1', scope: 'link' },
        { dst: '198.51.100.0/24', dev: 'eth0' },
      ]),
    ).toEqual(['192.0.2.0/24', '203.0.113.9/32']);
  });

  it('picks a free slot from a hash-derived start, skipping taken ones and slot 0', async () => {
    const taken = new Set([0x1234, 0x1235]);
    expect(await pickSlot('12340000', (s) => taken.has(s))).toBe(0x1236);
    expect(await pickSlot('00000000', () => false)).toBe(1);
    expect(await pickSlot('00000000', () => true)).toBeUndefined();
  });
});
