import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ExampleDefaults } from '../../examples/order/infrastructure.js';

/**
 * There is no container engine on our machines: this checks compose.yaml against the example's
 * defaults instead of starting it.
 */
const composePath = fileURLToPath(new URL('../../compose.yaml', import.meta.url));

interface Service {
  readonly image?: string;
  readonly environment?: Record<string, string>;
  readonly ports?: readonly string[];
}

const compose = parse(readFileSync(composePath, 'utf8')) as { services: Record<string, Service> };

/** The host port published for `containerPort`. */
function hostPort(service: Service, containerPort: number): number | undefined {
  for (const mapping of service.ports ?? []) {
    const parts = String(mapping).split(':');
    if (Number(parts.at(-1)) === containerPort) return Number(parts.at(-2));
  }
  return undefined;
}

function expectPostgres(name: string, url: string): void {
  const service = compose.services[name];
  expect(service, `service ${name}`).toBeDefined();
  const parsed = new URL(url);
  expect(service!.image).toMatch(/^postgres:/);
  expect(hostPort(service!, 5432)).toBe(Number(parsed.port));
  expect(service!.environment).toMatchObject({
    POSTGRES_USER: decodeURIComponent(parsed.username),
    POSTGRES_PASSWORD: decodeURIComponent(parsed.password),
    POSTGRES_DB: parsed.pathname.slice(1),
  });
}

describe('compose.yaml', () => {
  it('has the three services of the Quick Start, and nothing else', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['events-db', 'rabbitmq', 'read-model-db']);
  });

  it('serves the events database at the example default URL', () => {
    expectPostgres('events-db', ExampleDefaults.eventsDatabaseUrl);
  });

  it('serves the read-model database at the example default URL, on another port', () => {
    expectPostgres('read-model-db', ExampleDefaults.readModelDatabaseUrl);
    expect(new URL(ExampleDefaults.readModelDatabaseUrl).port).not.toBe(
      new URL(ExampleDefaults.eventsDatabaseUrl).port,
    );
  });

  it('serves RabbitMQ at the example default URL, with its credentials', () => {
    const service = compose.services.rabbitmq!;
    const parsed = new URL(ExampleDefaults.rabbitmqUrl);
    expect(service.image).toMatch(/^rabbitmq:/);
    expect(hostPort(service, 5672)).toBe(Number(parsed.port || 5672));
    expect(service.environment).toMatchObject({
      RABBITMQ_DEFAULT_USER: decodeURIComponent(parsed.username),
      RABBITMQ_DEFAULT_PASS: decodeURIComponent(parsed.password),
    });
  });
});
