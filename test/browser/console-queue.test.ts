import { CreateThingTypeCommand } from '@aws-sdk/client-iot';
import type { Browser } from 'playwright-core';
import { startLocalStack, type LocalStack } from '../support/local-stack';
import { chromiumAvailable, launchBrowser, screenshot, signInToConsole } from '../support/browser';

/**
 * The failure queue in the console: an operator sees a registration that failed (its origin and error), redrives
 * it once the cause is fixed, and the device's certificate ends ACTIVE.
 */

const ready = chromiumAvailable();
const maybe = ready ? describe : describe.skip;
const OPERATOR = { email: 'queue-op@example.com', password: 'Operator-Pass-1' };
let stack: LocalStack;
let browser: Browser;

beforeAll(async () => {
  if (!ready) return;
  stack = await startLocalStack({ core: { mqtt: { port: 0 }, console: { port: 0 } } });
  await (await stack.core.userPool()).addUser(OPERATOR.email, OPERATOR.password, ['operators']);
  browser = await launchBrowser();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

maybe('the failure queue in the console', () => {
  it('shows a failed registration and redrives it after the fix', async () => {
    // A thing type that does not exist yet: JITR's CreateThing fails on every attempt, the event lands in the queue.
    const device = await stack.device('QUEUE-0001', { registry: 'allow', thingType: 'queue-late-type' });
    stack.core.firstConnect(stack.chain(device), stack.dataEndpoint);
    await stack.core.idle();

    const { page, context, problems } = await signInToConsole(browser, stack.core.endpoints.console!, OPERATOR);
    await page.getByRole('link', { name: 'Queue' }).click();
    await page.locator('#queue-count').waitFor();
    expect(await page.locator('#queue-count').textContent()).toMatch(/^[1-9]\d* messages?/);
    expect(await page.locator('section').textContent()).toContain('ResourceNotFoundException');
    await screenshot(page, 'operator-queue-desktop');

    await stack.iot.send(new CreateThingTypeCommand({ thingTypeName: 'queue-late-type' }));
    await page.getByRole('button', { name: 'Redrive' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Redrive' }).click();
    await page.getByText(/^redriven [1-9]/).waitFor();
    await stack.core.idle();
    expect((await stack.state(device)).status).toBe('ACTIVE');
    expect(problems).toEqual([]);
    await context.close();
  }, 90_000);
});
