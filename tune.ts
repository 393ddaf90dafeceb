import { tf, resolveBackend, MLPVelocity, Trainer, flowMatchingObjective, createPath, Rng } from '@flowmatch/core';
import { sample } from '@flowmatch/solvers';
await resolveBackend({log:false});
function moonsArr(n: number, rng: Rng) { const a = new Float32Array(n*2); const h=Math.floor(n/2); for (let i=0;i<n;i++){ const th=Math.PI*rng.next(); let x,y; if(i<h){x=Math.cos(th);y=Math.sin(th);}else{x=1-Math.cos(th);y=0.5-Math.sin(th);} a[2*i]=x+0.05*rng.normal(); a[2*i+1]=y+0.05*rng.normal(); } return a; }
function swd(a: Float32Array, b: Float32Array, K=256) { const r=new Rng(123); let tot=0; const n=a.length/2; for(let k=0;k<K;k++){ const th=2*Math.PI*r.next(); const c=Math.cos(th), s=Math.sin(th); const pa=new Float64Array(n), pb=new Float64Array(n); for(let i=0;i<n;i++){pa[i]=a[2*i]*c+a[2*i+1]*s; pb[i]=b[2*i]*c+b[2*i+1]*s;} pa.sort(); pb.sort(); let d=0; for(let i=0;i<n;i++) d+=Math.abs(pa[i]-pb[i]); tot+=d/n; } return tot/K; }
const [hidden, depth, batch, lr, secs, sin] = process.argv.slice(2).map(Number);
const model = new MLPVelocity({dim:2, hidden, depth, activation:'silu', timeEmbedding: sin ? {sinusoidal: sin} : 'raw'});
const tr = new Trainer(model, flowMatchingObjective({model, path: createPath('condot'), sampleData: (n,rng)=>({x1: tf.tensor2d(moonsArr(n,rng),[n,2])}), batchSize: batch}), {steps: 100000, maxSeconds: secs, optimizer:{lr}, schedule:{warmupSteps:200, decay:'cosine', minRatio:0.01}, gradClipNorm:1, emaDecay: 0.999, progress:false});
const sum = await tr.fit();
tr.useEmaWeights();
const x0 = tf.randomNormal([10000,2], 0, 1, 'float32', 5);
const r = sample({model, x0, method:'midpoint', steps: 50});
const s = swd(r.x.dataSync() as Float32Array, moonsArr(10000, new Rng(99)));
console.log(`sin${sin} h${hidden} d${depth} b${batch} lr${lr} ${secs}s: steps ${sum.steps} (${sum.stepsPerSecond.toFixed(0)}/s) loss ${sum.recentLoss.toFixed(3)} SWD ${s.toFixed(4)}`);
