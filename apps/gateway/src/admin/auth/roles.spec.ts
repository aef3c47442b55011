import { mayCall } from './roles.js';

describe('mayCall', () => {
  const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'get'];

  it('lets an admin call everything', () => {
    for (const method of methods) for (const rule of [undefined, 'any-role', 'admin-only'] as const) expect(mayCall('admin', method, rule)).toBe(true);
  });

  it('lets a viewer read, and write nothing unless the route is marked any-role', () => {
    expect(methods.filter((method) => mayCall('viewer', method, undefined))).toEqual(['GET', 'HEAD', 'get']);
    for (const method of methods) expect(mayCall('viewer', method, 'any-role')).toBe(true);
    for (const method of methods) expect(mayCall('viewer', method, 'admin-only')).toBe(false);
  });
});
