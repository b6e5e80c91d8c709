/**
 * docker-compose.yml and config/kubernetes/pop3-monitor.yaml cannot run here (no Docker
 * engine, no cluster), so they are checked as data: they parse, name the services and
 * objects they should, mount files that exist, and the pop3-monitor configs they carry
 * pass the project's own config validation with their secrets in place.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { REPO_ROOT } from './shipping-support.js';

type Obj = Record<string, unknown>;

function at(value: unknown, ...path: (string | number)[]): unknown {
  let here = value;
  for (const key of path) {
    if (here === null || typeof here !== 'object') return undefined;
    here = (here as Obj)[key as string];
  }
  return here;
}

/** A readFile for parseConfig that serves `files` by path and refuses anything else. */
function fakeFiles(files: Record<string, string>): (path: string) => string {
  return (path) => {
    const text = files[path];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return text;
  };
}

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8')) as Obj;
  const services = compose.services as Record<string, Obj>;

  test('has the whole stack: certs, dovecot, pop3-monitor, prometheus, alertmanager, grafana', () => {
    assert.deepEqual(Object.keys(services).sort(), [
      'alertmanager',
      'certs',
      'dovecot',
      'grafana',
      'pop3-monitor',
      'prometheus',
    ]);
    assert.equal(at(services, 'pop3-monitor', 'build'), '.');
    assert.match(String(services.dovecot?.image), /^dovecot\/dovecot:2\.3\./);
    assert.match(String(services.prometheus?.image), /^prom\/prometheus:v2\./);
    assert.match(String(services.alertmanager?.image), /^prom\/alertmanager:v0\./);
    assert.match(String(services.grafana?.image), /^grafana\/grafana:/);
  });

  test('publishes each UI on loopback only, on its usual port', () => {
    const ports = Object.fromEntries(
      Object.entries(services).map(([name, s]) => [name, (s.ports as string[] | undefined) ?? []]),
    );
    assert.deepEqual(ports, {
      certs: [],
      dovecot: ['127.0.0.1:10110:110', '127.0.0.1:10995:995'],
      'pop3-monitor': ['127.0.0.1:9469:9469'],
      prometheus: ['127.0.0.1:9090:9090'],
      alertmanager: ['127.0.0.1:9093:9093'],
      grafana: ['127.0.0.1:3000:3000'],
    });
  });

  test('every file or folder it bind-mounts or uses as a secret exists in the repository', () => {
    const sources: string[] = [];
    for (const service of Object.values(services)) {
      for (const volume of (service.volumes as string[] | undefined) ?? []) {
        const source = volume.split(':')[0] ?? '';
        if (source.startsWith('.')) sources.push(source);
      }
    }
    for (const secret of Object.values(compose.secrets as Record<string, { file: string }>)) {
      sources.push(secret.file);
    }
    assert.ok(sources.length >= 10, `only ${sources.length} mounts found`);
    const missing = sources.filter((s) => !existsSync(join(REPO_ROOT, s)));
    assert.deepEqual(missing, []);
  });

  test('mounts the monitor config at the image path and its state on a volume', () => {
    const volumes = at(services, 'pop3-monitor', 'volumes') as string[];
    assert.ok(
      volumes.includes('./config/compose/pop3-monitor.yaml:/etc/pop3-monitor/config.yaml:ro'),
    );
    assert.ok(volumes.includes('pop3-monitor-data:/var/lib/pop3-monitor'));
    assert.ok('pop3-monitor-data' in (compose.volumes as Obj));
  });

  test('the monitor config passes validation with the compose secrets and a CA in place', () => {
    const text = readFileSync(join(REPO_ROOT, 'config', 'compose', 'pop3-monitor.yaml'), 'utf8');
    const secret = (name: string) =>
      readFileSync(join(REPO_ROOT, 'config', 'compose', 'secrets', name), 'utf8');
    const config = parseConfig(text, {
      env: {},
      source: 'pop3-monitor.yaml',
      readFile: fakeFiles({
        '/run/secrets/alice_password': secret('alice_password'),
        '/run/secrets/empty_password': secret('empty_password'),
        // Stands in for the certificate the certs service writes.
        '/etc/dovecot-certs/server.pem': readFileSync(
          join(REPO_ROOT, 'test', 'fixtures', 'tls', 'selfsigned.pem'),
          'utf8',
        ),
      }),
    });
    assert.equal(config.state_dir, '/var/lib/pop3-monitor');
    assert.equal(config.server.listen, '0.0.0.0:9469');
    assert.deepEqual(
      config.mailboxes.map((m) => [m.name, m.host, m.port, m.tls, m.password?.reveal()]),
      [
        ['alice', 'dovecot', 995, 'implicit', 'alice-sample-password'],
        ['empty', 'dovecot', 110, 'starttls', 'empty-sample-password'],
      ],
    );
    assert.deepEqual(config.alerting.alertmanager?.urls, ['http://alertmanager:9093']);
  });

  test('the Dovecot users file holds the passwords the compose secrets give the monitor', () => {
    const users = readFileSync(
      join(REPO_ROOT, 'config', 'compose', 'dovecot', 'users.passwd'),
      'utf8',
    );
    for (const user of ['alice', 'empty']) {
      const password = readFileSync(
        join(REPO_ROOT, 'config', 'compose', 'secrets', `${user}_password`),
        'utf8',
      ).trim();
      assert.match(users, new RegExp(`^${user}:\\{PLAIN\\}${password}:1000:1000:`, 'm'));
    }
  });
});

describe('config/kubernetes/pop3-monitor.yaml', () => {
  const docs = parseAllDocuments(
    readFileSync(join(REPO_ROOT, 'config', 'kubernetes', 'pop3-monitor.yaml'), 'utf8'),
  );
  const objects = docs.map((d) => {
    assert.deepEqual(d.errors, []);
    return d.toJS() as Obj;
  });
  const byKind = (kind: string) => objects.find((o) => o.kind === kind) as Obj;

  test('parses as four documents: ConfigMap, Secret, Service, StatefulSet', () => {
    assert.deepEqual(
      objects.map((o) => [o.apiVersion, o.kind, at(o, 'metadata', 'name')]),
      [
        ['v1', 'ConfigMap', 'pop3-monitor'],
        ['v1', 'Secret', 'pop3-monitor'],
        ['v1', 'Service', 'pop3-monitor'],
        ['apps/v1', 'StatefulSet', 'pop3-monitor'],
      ],
    );
  });

  test('each replica shards by its ordinal: run --shard auto/$(REPLICAS), REPLICAS = spec.replicas', () => {
    const sts = byKind('StatefulSet');
    const container = at(sts, 'spec', 'template', 'spec', 'containers', 0) as Obj;
    assert.deepEqual(container.args, ['run', '--shard', 'auto/$(REPLICAS)']);
    const env = Object.fromEntries(
      (container.env as { name: string; value?: string; valueFrom?: unknown }[]).map((e) => [
        e.name,
        e.value ?? e.valueFrom,
      ]),
    );
    assert.equal(env.REPLICAS, String(at(sts, 'spec', 'replicas')));
    assert.deepEqual(env.POD_NAME, { fieldRef: { fieldPath: 'metadata.name' } });
    assert.equal(env.POP3_MONITOR_CONFIG, '/etc/pop3-monitor/config.yaml');
    assert.equal(at(sts, 'spec', 'serviceName'), 'pop3-monitor');
  });

  test('runs as the image user, probes /healthz and /readyz, and is annotated for scraping', () => {
    const sts = byKind('StatefulSet');
    const pod = at(sts, 'spec', 'template') as Obj;
    assert.deepEqual(at(pod, 'metadata', 'annotations'), {
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '9469',
      'prometheus.io/path': '/metrics',
    });
    assert.equal(at(pod, 'spec', 'securityContext', 'runAsUser'), 1000);
    assert.equal(at(pod, 'spec', 'securityContext', 'runAsNonRoot'), true);
    const container = at(pod, 'spec', 'containers', 0) as Obj;
    assert.deepEqual(container.ports, [{ name: 'http-metrics', containerPort: 9469 }]);
    assert.equal(at(container, 'livenessProbe', 'httpGet', 'path'), '/healthz');
    assert.equal(at(container, 'readinessProbe', 'httpGet', 'path'), '/readyz');
    assert.equal(at(byKind('Service'), 'spec', 'clusterIP'), 'None');
  });

  test('mounts the config, the secrets and a state volume where the config expects them', () => {
    const sts = byKind('StatefulSet');
    const mounts = Object.fromEntries(
      (at(sts, 'spec', 'template', 'spec', 'containers', 0, 'volumeMounts') as Obj[]).map((m) => [
        m.name,
        m.mountPath,
      ]),
    );
    assert.deepEqual(mounts, {
      config: '/etc/pop3-monitor',
      secrets: '/run/secrets/pop3-monitor',
      state: '/var/lib/pop3-monitor',
      tmp: '/tmp',
    });
    assert.equal(at(sts, 'spec', 'volumeClaimTemplates', 0, 'metadata', 'name'), 'state');
  });

  test('the ConfigMap config passes validation with the example Secret mounted', () => {
    const secret = at(byKind('Secret'), 'stringData') as Record<string, string>;
    const files: Record<string, string> = {};
    for (const [key, value] of Object.entries(secret))
      files[`/run/secrets/pop3-monitor/${key}`] = value;
    const config = parseConfig(String(at(byKind('ConfigMap'), 'data', 'config.yaml')), {
      env: {},
      source: 'config.yaml',
      readFile: fakeFiles(files),
    });
    assert.equal(config.state_dir, '/var/lib/pop3-monitor');
    assert.deepEqual(
      config.mailboxes.map((m) => m.name),
      ['support', 'sales'],
    );
    assert.equal(config.alerting.smtp?.password?.reveal(), 'change-me');
  });
});
