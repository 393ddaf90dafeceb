import { tf, resolveBackend, MLPVelocity, Trainer, flowMatchingObjective, createPath, sampleToy2d } from '@flowmatch/core';
await resolveBackend({log:false});
const model = new MLPVelocity({dim:2, hidden:64, depth:3, activation:'silu'});
const tr = new Trainer(model, flowMatchingObjective({model, path: createPath('condot'), sampleData: (n,rng)=>({x1: sampleToy2d('moons', n, rng)}), batchSize: 256}), {steps: 100000, optimizer:{lr:3e-3}, emaDecay:0.999, gradClipNorm:1, progress:false});
for (let i=0;i<200;i++) tr.trainStep();
const info = await tf.profile(() => { tr.trainStep(); });
const byName = new Map<string, {n:number, ms:number}>();
for (const k of info.kernels) { const e = byName.get(k.name) ?? {n:0, ms:0}; e.n++; e.ms += (k.kernelTimeMs as number) || 0; byName.set(k.name, e); }
console.log('kernels', info.kernels.length);
console.log([...byName.entries()].sort((a,b)=>b[1].n-a[1].n).map(([k,v])=>`${k}:${v.n}`).join(' '));
const s = performance.now(); for (let i=0;i<500;i++) tr.trainStep(); console.log('steps/s', (500/((performance.now()-s)/1000)).toFixed(0));
const info2 = await tf.profile(() => { tr.trainStep(); });
console.log(info2.kernels.map(k => k.name + '[' + (k.inputShapes as any[]).map(s=>JSON.stringify(s)).join(',') + ']').join('\n'));
