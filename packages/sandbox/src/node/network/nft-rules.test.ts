import { describe, expect, it } from 'vitest';

import { guardRuleset, hostRuleset, netnsRuleset } from './nft-rules.js';

const base = {
  table: 'virtos-0a1b2c3d',
  hostVeth: 'virtos-0a1b2c3d',
  hostAddress: '10.213.0.5',
  envAddress: '10.213.0.6',
} as const;

describe('nft rule generation', () => {
  it('replaces its table atomically', () => {
    const text = hostRuleset({ ...base, mode: 'internet' });
    expect(text.split('\n').slice(0, 3)).toEqual([
      'add table inet virtos-0a1b2c3d',
      'delete table inet virtos-0a1b2c3d',
      'table inet virtos-0a1b2c3d {',
    ]);
  });

  it('allowlist: redirects 80/443/53 to the proxy and drops all else from the veth', () => {
    const text = hostRuleset({
      ...base,
      mode: 'allowlist',
      proxy: {
        tcp: new Map([
          [80, 40001],
          [443, 40002],
        ]),
        dnsPort: 40003,
      },
    });
    expect(text).toContain('iifname "virtos-0a1b2c3d" tcp dport 443 redirect to :40002');
    expect(text).toContain('iifname "virtos-0a1b2c3d" tcp dport 80 redirect to :40001');
    expect(text).toContain('iifname "virtos-0a1b2c3d" udp dport 53 redirect to :40003');
    expect(text).toContain(
      'iifname "virtos-0a1b2c3d" ip daddr 10.213.0.5 tcp dport { 40001, 40002 } accept',
    );
    const input = text.slice(text.indexOf('chain input'), text.indexOf('chain forward'));
    expect(input.trim().split('\n').slice(-2)[0]?.trim()).toBe('iifname "virtos-0a1b2c3d" drop');
    expect(text).toMatch(
      /chain forward \{[^}]*iifname "virtos-0a1b2c3d" drop\s+oifname "virtos-0a1b2c3d" drop/,
    );
    expect(text).not.toContain('masquerade');
  });

  it('internet: NAT for the environment address only, host input dropped, blocked ranges before anything', () => {
    const text = hostRuleset({
      ...base,
      mode: 'internet',
      internet: { blocked: ['127.0.0.0/8', '10.0.0.0/8'], dnsServers: ['10.255.255.53'] },
    });
    expect(text).toContain('ip saddr 10.213.0.6 oifname != "virtos-0a1b2c3d" masquerade');
    expect(text).toMatch(/chain input \{[^}]*iifname "virtos-0a1b2c3d" drop/);
    const forward = text.slice(text.indexOf('chain forward'));
    const dns = forward.indexOf(
      'ip daddr { 10.255.255.53 } meta l4proto { tcp, udp } th dport 53 accept',
    );
    const blocked = forward.indexOf('ip daddr { 127.0.0.0/8, 10.0.0.0/8 } drop');
    expect(dns).toBeGreaterThan(0);
    expect(blocked).toBeGreaterThan(dns);
    expect(forward).toContain('oifname "virtos-0a1b2c3d" ct state established,related accept');
    expect(forward).toContain('ip saddr != 10.213.0.6 drop');
  });

  it('tor: every TCP packet to the TransPort (redirect or DNAT), DNS to the DNSPort', () => {
    const redirect = hostRuleset({ ...base, mode: 'tor', tor: { transPort: 9040, dnsPort: 9053 } });
    expect(redirect).toContain('iifname "virtos-0a1b2c3d" meta l4proto tcp redirect to :9040');
    expect(redirect).toContain('iifname "virtos-0a1b2c3d" udp dport 53 redirect to :9053');
    expect(redirect).toContain('ip daddr 10.213.0.5 tcp dport 9040 accept');
    const dnat = hostRuleset({
      ...base,
      mode: 'tor',
      tor: { transPort: 9040, dnsPort: 9053, address: '10.215.0.1' },
    });
    expect(dnat).toContain('meta l4proto tcp dnat ip to 10.215.0.1:9040');
    expect(dnat).toContain('ip daddr 10.215.0.1 udp dport 9053 accept');
  });

  it('netns: default drop both ways, loopback and peer links open, only what the mode needs on eth0', () => {
    const allow = netnsRuleset('allowlist');
    expect(allow).toContain('type filter hook output priority filter; policy drop;');
    expect(allow).toContain('oifname "vp-*" accept');
    expect(allow).toContain('oifname "eth0" tcp dport { 80, 443 } accept');
    expect(netnsRuleset('tor')).toContain('oifname "eth0" meta l4proto tcp accept');
    expect(netnsRuleset('tor')).not.toContain('meta nfproto ipv4 accept');
    expect(netnsRuleset('none')).not.toContain('eth0');
  });

  it('the guard confines forwarding to VirtOS interfaces', () => {
    expect(guardRuleset()).toContain('iifname != "virtos-*" oifname != "virtos-*" drop');
  });
});
