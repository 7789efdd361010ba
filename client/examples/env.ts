/**
 * Where the examples find the hub and a token: AGENTCOM_URL (default the
 * `npm start` hub), and AGENTCOM_TOKEN, or else a token minted on the admin
 * port with AGENTCOM_ADMIN_TOKEN (the one `npm start` printed, or the one you
 * started it with).
 */
export const url = process.env.AGENTCOM_URL ?? 'ws://127.0.0.1:4000/ws';

export async function tokenFor(agentId: string): Promise<string> {
  if (process.env.AGENTCOM_TOKEN) return process.env.AGENTCOM_TOKEN;
  const admin = process.env.AGENTCOM_ADMIN_TOKEN;
  if (!admin) throw new Error('set AGENTCOM_TOKEN, or AGENTCOM_ADMIN_TOKEN to mint one');
  const res = await fetch(`${process.env.AGENTCOM_ADMIN_URL ?? 'http://127.0.0.1:4001'}/admin/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}` },
    body: JSON.stringify({ agent_id: agentId }),
  });
  if (res.status !== 201) throw new Error(`minting a token for ${agentId}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}
