/**
 * Exact linear assignment: the permutation σ minimising Σ_i C[i, σ(i)]. Solved the Jonker–Volgenant way: a cheap
 * initialisation (row and column reduction, reduction transfer, augmenting row reduction) matches most rows, then
 * each remaining row is added by a shortest augmenting path — a Dijkstra search over reduced costs
 * C[i,j] − u[i] − v[j] ≥ 0 — after which the potentials are updated so they stay feasible. O(n²m) worst case; the
 * search stops at the first free column and only scans columns not yet reached, so typical instances finish far
 * faster than the bound.
 */

function checkCostMatrix(cost: Float64Array | Float32Array, rows: number, cols: number, who: string): void {
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 0) {
    throw new RangeError(`${who}: sizes must be non-negative integers, got ${rows} × ${cols}`);
  }
  if (!(cost instanceof Float64Array || cost instanceof Float32Array)) {
    throw new TypeError(`${who}: cost must be a Float64Array or Float32Array (row-major ${rows} × ${cols})`);
  }
  if (cost.length !== rows * cols) {
    throw new RangeError(`${who}: cost has ${cost.length} entries but a ${rows} × ${cols} matrix needs ${rows * cols}`);
  }
  for (let k = 0; k < cost.length; k++) {
    if (!Number.isFinite(cost[k])) {
      throw new RangeError(`${who}: cost[${Math.floor(k / cols)}, ${k % cols}] is ${cost[k]}; all costs must be finite`);
    }
  }
}

/**
 * Jonker–Volgenant's initialisation for a square problem: column reduction, reduction transfer and two rounds of
 * augmenting row reduction (an auction-like pass). It matches most rows cheaply with feasible potentials — every
 * matched row sits on a column of minimal reduced cost — so the shortest-path phase only handles the rest.
 * Returns the rows still unmatched; fills the potentials and the partial matching.
 */
function initialiseSquare(
  cost: Float64Array | Float32Array,
  n: number,
  rowPotential: Float64Array,
  colPotential: Float64Array,
  colOfRow: Int32Array,
  rowOfCol: Int32Array,
): Int32Array {
  // Row reduction first: with squared distances a large shift between the batches adds a row-dependent constant
  // that would otherwise make one row the column minimum everywhere.
  const rowMin = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const base = i * n;
    let min = Infinity;
    for (let j = 0; j < n; j++) if (cost[base + j] < min) min = cost[base + j];
    rowMin[i] = min;
  }
  // Column reduction: v[j] = min_i (C[i, j] − rowMin[i]); each row takes the cheapest of the columns it minimises.
  const matches = new Int32Array(n);
  for (let j = n - 1; j >= 0; j--) {
    let best = cost[j] - rowMin[0];
    let bestRow = 0;
    for (let i = 1; i < n; i++) {
      const c = cost[i * n + j] - rowMin[i];
      if (c < best) {
        best = c;
        bestRow = i;
      }
    }
    colPotential[j] = best;
    if (++matches[bestRow] === 1) {
      colOfRow[bestRow] = j;
      rowOfCol[j] = bestRow;
    } else if (best < colPotential[colOfRow[bestRow]]) {
      rowOfCol[colOfRow[bestRow]] = -1;
      colOfRow[bestRow] = j;
      rowOfCol[j] = bestRow;
    }
  }

  // Reduction transfer: a row owning one column moves slack onto that column, so it stays tight there.
  let free = new Int32Array(n);
  let freeCount = 0;
  for (let i = 0; i < n; i++) {
    if (matches[i] === 0) {
      free[freeCount++] = i;
    } else if (matches[i] === 1) {
      const own = colOfRow[i];
      const base = i * n;
      let second = Infinity;
      for (let j = 0; j < n; j++) if (j !== own) second = Math.min(second, cost[base + j] - colPotential[j]);
      // Lower the owned column's price until the row is indifferent between it and its best alternative.
      if (n > 1) colPotential[own] -= second - (cost[base + own] - colPotential[own]);
    }
  }

  // Augmenting row reduction: a free row grabs its cheapest column, lowering that column's price by the margin
  // to its second choice and evicting the owner. Capped so adversarial inputs cannot make it spin.
  let budget = 20 * n;
  for (let round = 0; round < 2 && freeCount > 0; round++) {
    const pending = free.subarray(0, freeCount);
    const next = new Int32Array(n);
    let nextCount = 0;
    let k = 0;
    const queue = Int32Array.from(pending);
    while (k < queue.length) {
      const i = queue[k++];
      if (budget-- <= 0) {
        next[nextCount++] = i;
        continue;
      }
      const base = i * n;
      let min1 = Infinity;
      let min2 = Infinity;
      let col1 = -1;
      let col2 = -1;
      for (let j = 0; j < n; j++) {
        const h = cost[base + j] - colPotential[j];
        if (h < min2) {
          if (h >= min1) {
            min2 = h;
            col2 = j;
          } else {
            min2 = min1;
            col2 = col1;
            min1 = h;
            col1 = j;
          }
        }
      }
      let target = col1;
      let evicted = rowOfCol[col1];
      if (min1 < min2) colPotential[col1] -= min2 - min1;
      else if (evicted >= 0 && col2 >= 0) {
        target = col2;
        evicted = rowOfCol[col2];
      }
      colOfRow[i] = target;
      rowOfCol[target] = i;
      if (evicted >= 0) {
        colOfRow[evicted] = -1;
        // A strictly better bid re-queues the evicted row at once; a tie defers it to the next round.
        if (min1 < min2) queue[--k] = evicted;
        else next[nextCount++] = evicted;
      }
    }
    free = next;
    freeCount = nextCount;
  }

  // Row potentials: the minimal reduced cost of each row (tight on its column for matched rows).
  for (let i = 0; i < n; i++) {
    const base = i * n;
    let min = Infinity;
    for (let j = 0; j < n; j++) min = Math.min(min, cost[base + j] - colPotential[j]);
    rowPotential[i] = min;
  }
  return free.slice(0, freeCount);
}

/**
 * Solves min Σ_i cost[i, assignment[i]] over injective assignments of the n rows to the m ≥ n columns of a
 * row-major cost matrix (square by default). Returns assignment[row] = column.
 */
export function linearSumAssignment(cost: Float64Array | Float32Array, n: number, m = n): Int32Array {
  checkCostMatrix(cost, n, m, 'linearSumAssignment');
  if (n > m) throw new RangeError(`linearSumAssignment: ${n} rows cannot be assigned to only ${m} columns (needs rows ≤ columns)`);

  const rowPotential = new Float64Array(n);
  const colPotential = new Float64Array(m);
  const colOfRow = new Int32Array(n).fill(-1);
  const rowOfCol = new Int32Array(m).fill(-1);
  const freeRows = n === m ? initialiseSquare(cost, n, rowPotential, colPotential, colOfRow, rowOfCol) : Int32Array.from({ length: n }, (_, i) => i);
  // Per search: the settled columns' final distance and predecessor row, and the unsettled columns in slots.
  const distance = new Float64Array(m);
  const reachedFrom = new Int32Array(m);
  const slotCol = new Int32Array(m);
  const slotDistance = new Float64Array(m);
  const slotPotential = new Float64Array(m);
  const slotFrom = new Int32Array(m);
  const settledCols = new Int32Array(m);
  const visitedRows = new Int32Array(n);

  for (const start of freeRows) {
    // The unsettled columns live in slot order with their tentative distance and (fixed during the search)
    // potential alongside, so the hot loop reads memory sequentially; a settled column swaps out to the end.
    for (let j = 0; j < m; j++) {
      slotCol[j] = j;
      slotDistance[j] = Infinity;
      slotPotential[j] = colPotential[j];
    }
    let unsettledCount = m;
    let settledCount = 0;
    let visitedCount = 0;
    let row = start;
    let pathLength = 0; // distance of the column settled last
    let sink = -1;

    while (sink < 0) {
      visitedRows[visitedCount++] = row;
      const base = row * m;
      const offset = pathLength - rowPotential[row];
      let best = Infinity;
      let bestSlot = -1;
      for (let slot = 0; slot < unsettledCount; slot++) {
        const j = slotCol[slot];
        const candidate = offset + cost[base + j] - slotPotential[slot];
        let d = slotDistance[slot];
        if (candidate < d) {
          d = candidate;
          slotDistance[slot] = candidate;
          slotFrom[slot] = row;
        }
        // On ties prefer a free column: it ends the search one step earlier.
        if (d < best || (d === best && rowOfCol[j] < 0)) {
          best = d;
          bestSlot = slot;
        }
      }
      if (bestSlot < 0) throw new Error('linearSumAssignment: no augmenting path (internal error)');
      const col = slotCol[bestSlot];
      distance[col] = best;
      reachedFrom[col] = slotFrom[bestSlot];
      const last = --unsettledCount;
      slotCol[bestSlot] = slotCol[last];
      slotDistance[bestSlot] = slotDistance[last];
      slotPotential[bestSlot] = slotPotential[last];
      slotFrom[bestSlot] = slotFrom[last];
      settledCols[settledCount++] = col;
      pathLength = best;
      if (rowOfCol[col] < 0) sink = col;
      else row = rowOfCol[col];
    }

    // Keep reduced costs non-negative and tight along the new matching (standard Dijkstra dual update).
    rowPotential[start] += pathLength;
    for (let k = 1; k < visitedCount; k++) {
      const r = visitedRows[k];
      rowPotential[r] += pathLength - distance[colOfRow[r]];
    }
    for (let k = 0; k < settledCount; k++) {
      const j = settledCols[k];
      colPotential[j] -= pathLength - distance[j];
    }

    // Flip the alternating path back to the start row.
    let col = sink;
    for (;;) {
      const r = reachedFrom[col];
      rowOfCol[col] = r;
      const previous = colOfRow[r];
      colOfRow[r] = col;
      if (r === start) break;
      col = previous;
    }
  }
  return colOfRow;
}

/** Σ_i cost[i, assignment[i]] for a row-major matrix with `cols` columns. */
export function assignmentCost(cost: Float64Array | Float32Array, assignment: Int32Array, cols = assignment.length): number {
  let total = 0;
  for (let i = 0; i < assignment.length; i++) total += cost[i * cols + assignment[i]];
  return total;
}

export interface SinkhornOptions {
  /** Maximum number of (row, column) update sweeps. Default 1000. */
  iterations?: number;
  /** Stop once the row marginals are within this L1 distance of the targets (columns are exact). Default 1e-6. */
  tolerance?: number;
  /** Row marginal (sums to 1); uniform by default. */
  rowMarginal?: Float64Array;
  /** Column marginal (sums to 1); uniform by default. */
  colMarginal?: Float64Array;
  /** Anneal reg down from the cost range, warm-starting each stage (much faster for small reg). Default true. */
  epsilonScaling?: boolean;
}

export interface SinkhornResult {
  /** The entropic transport plan, row-major n × m, summing to 1. */
  plan: Float64Array;
  /** Sweeps performed. */
  iterations: number;
  /** L1 distance of the plan's row sums from the row marginal at exit. */
  marginalError: number;
  converged: boolean;
  /** Dual potentials f (rows) and g (columns) in cost units: plan = exp((f_i + g_j − C_ij) / reg). */
  rowPotential: Float64Array;
  colPotential: Float64Array;
}

function checkMarginal(marginal: Float64Array | undefined, length: number, name: string): Float64Array {
  if (marginal === undefined) return new Float64Array(length).fill(1 / length);
  if (!(marginal instanceof Float64Array) || marginal.length !== length) {
    throw new RangeError(`sinkhornPlan: ${name} must be a Float64Array of length ${length}`);
  }
  let sum = 0;
  for (const w of marginal) {
    if (!(w > 0) || !Number.isFinite(w)) throw new RangeError(`sinkhornPlan: ${name} entries must be positive and finite`);
    sum += w;
  }
  if (Math.abs(sum - 1) > 1e-9) throw new RangeError(`sinkhornPlan: ${name} must sum to 1, sums to ${sum}`);
  return marginal;
}

/**
 * Entropic optimal transport: the plan P minimising ⟨P, C⟩ − reg·H(P) with the given marginals, by Sinkhorn
 * iterations in the log domain (so tiny `reg` does not underflow the Gibbs kernel exp(−C/reg)).
 */
export function sinkhornPlan(cost: Float64Array | Float32Array, n: number, m: number, reg: number, options: SinkhornOptions = {}): SinkhornResult {
  checkCostMatrix(cost, n, m, 'sinkhornPlan');
  if (n === 0 || m === 0) throw new RangeError(`sinkhornPlan: empty ${n} × ${m} cost matrix`);
  if (!(reg > 0) || !Number.isFinite(reg)) throw new RangeError(`sinkhornPlan: reg must be a positive number, got ${reg}`);
  const maxIterations = options.iterations ?? 1000;
  const tolerance = options.tolerance ?? 1e-6;
  if (!Number.isInteger(maxIterations) || maxIterations < 1) throw new RangeError(`sinkhornPlan: iterations must be a positive integer, got ${maxIterations}`);
  if (!(tolerance >= 0)) throw new RangeError(`sinkhornPlan: tolerance must be ≥ 0, got ${tolerance}`);
  const a = checkMarginal(options.rowMarginal, n, 'rowMarginal');
  const b = checkMarginal(options.colMarginal, m, 'colMarginal');

  // The plan is diag(u) · gibbs · diag(v) with gibbs_ij = exp(alpha_i + beta_j − C_ij / r) at the current reg r.
  // Iterating on the scalings u, v costs only multiply-adds; whenever they drift far from 1 they are absorbed
  // into the log-potentials alpha, beta and gibbs is rebuilt, which keeps every number representable however
  // small reg is (the "stabilised" Sinkhorn of Schmitzer 2019).
  const logA = Float64Array.from(a, Math.log);
  const logB = Float64Array.from(b, Math.log);
  const alpha = new Float64Array(n);
  const beta = new Float64Array(m);
  const u = new Float64Array(n).fill(1);
  const v = new Float64Array(m).fill(1);
  const gibbs = new Float64Array(n * m);
  const rowProduct = new Float64Array(n);
  const colProduct = new Float64Array(m);
  let stageReg = reg;

  const rebuildGibbs = () => {
    for (let i = 0; i < n; i++) {
      const base = i * m;
      const ai = alpha[i];
      for (let j = 0; j < m; j++) gibbs[base + j] = Math.exp(ai + beta[j] - cost[base + j] / stageReg);
    }
  };

  /** One exact Sinkhorn sweep in the log domain: robust from any potentials; resets the scalings to 1. */
  const logDomainSweep = () => {
    for (let i = 0; i < n; i++) {
      const base = i * m;
      let max = -Infinity;
      for (let j = 0; j < m; j++) max = Math.max(max, beta[j] - cost[base + j] / stageReg);
      let sum = 0;
      for (let j = 0; j < m; j++) sum += Math.exp(beta[j] - cost[base + j] / stageReg - max);
      alpha[i] = logA[i] - max - Math.log(sum);
    }
    const colMax = new Float64Array(m).fill(-Infinity);
    for (let i = 0; i < n; i++) {
      const base = i * m;
      for (let j = 0; j < m; j++) colMax[j] = Math.max(colMax[j], alpha[i] - cost[base + j] / stageReg);
    }
    colProduct.fill(0);
    for (let i = 0; i < n; i++) {
      const base = i * m;
      for (let j = 0; j < m; j++) colProduct[j] += Math.exp(alpha[i] - cost[base + j] / stageReg - colMax[j]);
    }
    for (let j = 0; j < m; j++) beta[j] = logB[j] - colMax[j] - Math.log(colProduct[j]);
    u.fill(1);
    v.fill(1);
    rebuildGibbs();
  };

  const LIMIT = 1e100;
  const outOfRange = (x: number) => !(x > 1 / LIMIT && x < LIMIT);

  /** Scaling iterations at the current reg until the row marginal error is ≤ stopAt or the budget is spent. */
  const iterate = (budget: number, stopAt: number): { used: number; error: number } => {
    let used = 0;
    while (used < budget) {
      // The row products give the current plan's row sums (its columns are exact after the last column update),
      // so the convergence check is free; stop before the row update so the reported error is that plan's.
      let error = 0;
      for (let i = 0; i < n; i++) {
        const base = i * m;
        let product = 0;
        for (let j = 0; j < m; j++) product += gibbs[base + j] * v[j];
        rowProduct[i] = product;
        error += Math.abs(u[i] * product - a[i]);
      }
      if (error <= stopAt) return { used, error };
      let unstable = false;
      for (let i = 0; i < n; i++) {
        u[i] = a[i] / rowProduct[i];
        if (outOfRange(u[i])) unstable = true;
      }
      colProduct.fill(0);
      for (let i = 0; i < n; i++) {
        const base = i * m;
        const ui = u[i];
        for (let j = 0; j < m; j++) colProduct[j] += gibbs[base + j] * ui;
      }
      for (let j = 0; j < m; j++) {
        v[j] = b[j] / colProduct[j];
        if (outOfRange(v[j])) unstable = true;
      }
      used++;
      if (unstable) stabilise();
    }
    return { used, error: rowError() };
  };

  /** Folds the scalings into the potentials, or re-derives the potentials if a scaling over- or underflowed. */
  const stabilise = () => {
    const finite = u.every((x) => x > 0 && Number.isFinite(x)) && v.every((x) => x > 0 && Number.isFinite(x));
    if (!finite) return logDomainSweep();
    for (let i = 0; i < n; i++) alpha[i] += Math.log(u[i]);
    for (let j = 0; j < m; j++) beta[j] += Math.log(v[j]);
    u.fill(1);
    v.fill(1);
    rebuildGibbs();
  };

  const rowError = () => {
    let error = 0;
    for (let i = 0; i < n; i++) {
      const base = i * m;
      let product = 0;
      for (let j = 0; j < m; j++) product += gibbs[base + j] * v[j];
      error += Math.abs(u[i] * product - a[i]);
    }
    return error;
  };

  // ε-scaling: solve coarse (large reg) problems first and warm-start each finer one from their potentials.
  let costMin = Infinity;
  let costMax = -Infinity;
  for (const c of cost) {
    costMin = Math.min(costMin, c);
    costMax = Math.max(costMax, c);
  }
  const schedule: number[] = [];
  if (options.epsilonScaling ?? true) for (let r = (costMax - costMin) / 2; r > reg; r /= 4) schedule.push(r);
  schedule.push(reg);

  let iterations = 0;
  let marginalError = Infinity;
  for (let stage = 0; stage < schedule.length; stage++) {
    const last = stage === schedule.length - 1;
    if (stage > 0) {
      // Same potentials in cost units, rescaled to the new reg.
      for (let i = 0; i < n; i++) alpha[i] = ((alpha[i] + Math.log(u[i])) * stageReg) / schedule[stage];
      for (let j = 0; j < m; j++) beta[j] = ((beta[j] + Math.log(v[j])) * stageReg) / schedule[stage];
    }
    stageReg = schedule[stage];
    logDomainSweep();
    iterations++;
    const budget = last ? maxIterations - iterations : Math.min(maxIterations - iterations - 1, 50);
    const result = iterate(Math.max(budget, 0), last ? tolerance : Math.max(tolerance, 1e-3));
    iterations += result.used;
    marginalError = result.error;
  }

  const plan = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    const base = i * m;
    for (let j = 0; j < m; j++) plan[base + j] = u[i] * gibbs[base + j] * v[j];
  }
  return {
    plan,
    iterations,
    marginalError,
    converged: marginalError <= tolerance,
    rowPotential: Float64Array.from(alpha, (x, i) => (x + Math.log(u[i])) * reg),
    colPotential: Float64Array.from(beta, (x, j) => (x + Math.log(v[j])) * reg),
  };
}

