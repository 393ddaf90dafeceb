/**
 * Exact linear assignment: the permutation σ minimising Σ_i C[i, σ(i)]. Solved by successive shortest augmenting
 * paths with dual potentials (the Jonker–Volgenant family): each row is added in turn by a Dijkstra search over
 * reduced costs C[i,j] − u[i] − v[j] ≥ 0, after which the potentials are updated so they stay feasible. O(n²m)
 * worst case, but the search stops at the first free column and only scans columns not yet reached, so random
 * instances finish far faster than the bound.
 */

function checkCostMatrix(cost: Float64Array | Float32Array, rows: number, cols: number, who: string): void {
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 0) {
    throw new RangeError(`${who}: sizes must be non-negative integers, got ${rows} × ${cols}`);
  }
  if (!(cost instanceof Float64Array || cost instanceof Float32Array)) {
    throw new TypeError(`${who}: cost must be a Float64Array (row-major ${rows} × ${cols})`);
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
  const rowMin = new Float64Array(n).fill(Infinity);
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
  // Per search: tentative distance to each column, the row it was reached from, and the columns not yet settled.
  const distance = new Float64Array(m);
  const reachedFrom = new Int32Array(m);
  const unsettled = new Int32Array(m);
  const settledCols = new Int32Array(m);
  const visitedRows = new Int32Array(n);

  for (const start of freeRows) {
    distance.fill(Infinity);
    for (let j = 0; j < m; j++) unsettled[j] = j;
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
        const j = unsettled[slot];
        const candidate = offset + cost[base + j] - colPotential[j];
        if (candidate < distance[j]) {
          distance[j] = candidate;
          reachedFrom[j] = row;
        }
        const d = distance[j];
        // On ties prefer a free column: it ends the search one step earlier.
        if (d < best || (d === best && rowOfCol[j] < 0)) {
          best = d;
          bestSlot = slot;
        }
      }
      if (bestSlot < 0) throw new Error('linearSumAssignment: no augmenting path (internal error)');
      const col = unsettled[bestSlot];
      unsettled[bestSlot] = unsettled[--unsettledCount];
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

  // Work with potentials scaled by 1/reg: plan_ij = exp(alpha_i + beta_j + kernel_ij), kernel = −C/reg.
  const kernel = new Float64Array(n * m);
  for (let k = 0; k < kernel.length; k++) kernel[k] = -cost[k] / reg;
  const logA = Float64Array.from(a, Math.log);
  const logB = Float64Array.from(b, Math.log);
  const alpha = new Float64Array(n);
  const beta = new Float64Array(m);
  const rowLse = new Float64Array(n);
  const colMax = new Float64Array(m);
  const colSum = new Float64Array(m);

  let iterations = 0;
  let marginalError = Infinity;
  while (iterations < maxIterations) {
    // Row update; the log-sum-exps also give the row sums of the current plan, i.e. its marginal error.
    let error = 0;
    for (let i = 0; i < n; i++) {
      const base = i * m;
      let max = -Infinity;
      for (let j = 0; j < m; j++) {
        const z = beta[j] + kernel[base + j];
        if (z > max) max = z;
      }
      let sum = 0;
      for (let j = 0; j < m; j++) sum += Math.exp(beta[j] + kernel[base + j] - max);
      rowLse[i] = max + Math.log(sum);
      if (iterations > 0) error += Math.abs(Math.exp(alpha[i] + rowLse[i]) - a[i]);
    }
    if (iterations > 0) {
      marginalError = error;
      if (error <= tolerance) break;
    }
    for (let i = 0; i < n; i++) alpha[i] = logA[i] - rowLse[i];

    // Column update, row-major in two passes (max, then sum) to stay cache-friendly.
    colMax.fill(-Infinity);
    for (let i = 0; i < n; i++) {
      const base = i * m;
      const ai = alpha[i];
      for (let j = 0; j < m; j++) {
        const z = ai + kernel[base + j];
        if (z > colMax[j]) colMax[j] = z;
      }
    }
    colSum.fill(0);
    for (let i = 0; i < n; i++) {
      const base = i * m;
      const ai = alpha[i];
      for (let j = 0; j < m; j++) colSum[j] += Math.exp(ai + kernel[base + j] - colMax[j]);
    }
    for (let j = 0; j < m; j++) beta[j] = logB[j] - colMax[j] - Math.log(colSum[j]);
    iterations++;
  }
  if (iterations === maxIterations) marginalError = rowMarginalError(kernel, alpha, beta, a, n, m);

  const plan = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    const base = i * m;
    for (let j = 0; j < m; j++) plan[base + j] = Math.exp(alpha[i] + beta[j] + kernel[base + j]);
  }
  return {
    plan,
    iterations,
    marginalError,
    converged: marginalError <= tolerance,
    rowPotential: Float64Array.from(alpha, (x) => x * reg),
    colPotential: Float64Array.from(beta, (x) => x * reg),
  };
}

function rowMarginalError(kernel: Float64Array, alpha: Float64Array, beta: Float64Array, a: Float64Array, n: number, m: number): number {
  let error = 0;
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let j = 0; j < m; j++) sum += Math.exp(alpha[i] + beta[j] + kernel[i * m + j]);
    error += Math.abs(sum - a[i]);
  }
  return error;
}
