;; arcinvert's own SIMD kernels for tfjs-backend-wasm: memory-bound work in one pass where tfjs
;; composes several. The module imports the backend's own memory, so it reads and writes
;; tensors where they lie (byte offsets into the heap). Every tensor is channels last, rows of
;; C float32 with C a multiple of 4; `simd.ts` checks that before calling, and builds this file
;; into `kernels.ts` (`npm run build:simd`).
(module
  (import "env" "memory" (memory 0))

  ;; PReLU's input gradient: dx = dy where x > 0, else dy·alpha[c]. rows × c elements.
  (func (export "prelu_dx")
    (param $dx i32) (param $dy i32) (param $x i32) (param $alpha i32) (param $rows i32) (param $c i32)
    (local $k i32) (local $cb i32) (local $g v128)
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (block $done
      (loop $next_row
        (br_if $done (i32.eqz (local.get $rows)))
        (local.set $k (i32.const 0))
        (block $row_done
          (loop $next_lane
            (br_if $row_done (i32.ge_u (local.get $k) (local.get $cb)))
            (local.set $g (v128.load (i32.add (local.get $dy) (local.get $k))))
            (v128.store
              (i32.add (local.get $dx) (local.get $k))
              (v128.bitselect
                (local.get $g)
                (f32x4.mul (local.get $g) (v128.load (i32.add (local.get $alpha) (local.get $k))))
                (f32x4.gt (v128.load (i32.add (local.get $x) (local.get $k))) (f32x4.splat (f32.const 0)))))
            (local.set $k (i32.add (local.get $k) (i32.const 16)))
            (br $next_lane)))
        (local.set $dx (i32.add (local.get $dx) (local.get $cb)))
        (local.set $dy (i32.add (local.get $dy) (local.get $cb)))
        (local.set $x (i32.add (local.get $x) (local.get $cb)))
        (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
        (br $next_row))))

  ;; acc[k] += row[k] over `rows` rows of cb bytes (float32 accumulators).
  (func $sum_rows (param $x i32) (param $rows i32) (param $cb i32) (param $acc i32)
    (local $k i32)
    (block $done
      (loop $next_row
        (br_if $done (i32.eqz (local.get $rows)))
        (local.set $k (i32.const 0))
        (block $row_done
          (loop $next_lane
            (br_if $row_done (i32.ge_u (local.get $k) (local.get $cb)))
            (v128.store
              (i32.add (local.get $acc) (local.get $k))
              (f32x4.add
                (v128.load (i32.add (local.get $acc) (local.get $k)))
                (v128.load (i32.add (local.get $x) (local.get $k)))))
            (local.set $k (i32.add (local.get $k) (i32.const 16)))
            (br $next_lane)))
        (local.set $x (i32.add (local.get $x) (local.get $cb)))
        (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
        (br $next_row))))

  ;; acc[k] += (row[k] − mean[k])² over `rows` rows of cb bytes.
  (func $sqdev_rows (param $x i32) (param $rows i32) (param $cb i32) (param $acc i32) (param $mean i32)
    (local $k i32) (local $d v128)
    (block $done
      (loop $next_row
        (br_if $done (i32.eqz (local.get $rows)))
        (local.set $k (i32.const 0))
        (block $row_done
          (loop $next_lane
            (br_if $row_done (i32.ge_u (local.get $k) (local.get $cb)))
            (local.set $d
              (f32x4.sub
                (v128.load (i32.add (local.get $x) (local.get $k)))
                (v128.load (i32.add (local.get $mean) (local.get $k)))))
            (v128.store
              (i32.add (local.get $acc) (local.get $k))
              (f32x4.add
                (v128.load (i32.add (local.get $acc) (local.get $k)))
                (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $k (i32.add (local.get $k) (i32.const 16)))
            (br $next_lane)))
        (local.set $x (i32.add (local.get $x) (local.get $cb)))
        (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
        (br $next_row))))

  ;; total[k] (float64) += acc[k] (float32), then acc ← 0. c values.
  (func $flush (param $acc i32) (param $total i32) (param $c i32)
    (local $k i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $k) (local.get $c)))
        (f64.store
          (i32.add (local.get $total) (i32.shl (local.get $k) (i32.const 3)))
          (f64.add
            (f64.load (i32.add (local.get $total) (i32.shl (local.get $k) (i32.const 3))))
            (f64.promote_f32 (f32.load (i32.add (local.get $acc) (i32.shl (local.get $k) (i32.const 2)))))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $next)))
    (memory.fill (local.get $acc) (i32.const 0) (i32.shl (local.get $c) (i32.const 2))))

  ;; out[k] = total[k] / rows as float32, c values.
  (func $average (param $out i32) (param $total i32) (param $c i32) (param $rows i32)
    (local $k i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $k) (local.get $c)))
        (f32.store
          (i32.add (local.get $out) (i32.shl (local.get $k) (i32.const 2)))
          (f32.demote_f64
            (f64.div
              (f64.load (i32.add (local.get $total) (i32.shl (local.get $k) (i32.const 3))))
              (f64.convert_i32_u (local.get $rows)))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $next))))

  ;; Per-channel mean and biased variance of rows × c values: out[0:c] the means, out[c:2c] the
  ;; variances. Two passes (the variance about the mean, no E[x²] − μ² cancellation), each
  ;; summing blocks of at most 64 rows in float32 and the blocks in float64. scratch: 12·c bytes.
  (func (export "channel_stats") (param $out i32) (param $x i32) (param $rows i32) (param $c i32) (param $scratch i32)
    (local $cb i32) (local $total i32) (local $left i32) (local $n i32) (local $at i32)
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (local.set $total (i32.add (local.get $scratch) (local.get $cb)))
    (memory.fill (local.get $scratch) (i32.const 0) (i32.mul (local.get $c) (i32.const 12)))
    (local.set $left (local.get $rows))
    (local.set $at (local.get $x))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $left)))
        (local.set $n (select (i32.const 64) (local.get $left) (i32.gt_u (local.get $left) (i32.const 64))))
        (call $sum_rows (local.get $at) (local.get $n) (local.get $cb) (local.get $scratch))
        (call $flush (local.get $scratch) (local.get $total) (local.get $c))
        (local.set $at (i32.add (local.get $at) (i32.mul (local.get $n) (local.get $cb))))
        (local.set $left (i32.sub (local.get $left) (local.get $n)))
        (br $next)))
    (call $average (local.get $out) (local.get $total) (local.get $c) (local.get $rows))
    (memory.fill (local.get $total) (i32.const 0) (i32.shl (local.get $c) (i32.const 3)))
    (local.set $left (local.get $rows))
    (local.set $at (local.get $x))
    (block $done2
      (loop $next2
        (br_if $done2 (i32.eqz (local.get $left)))
        (local.set $n (select (i32.const 64) (local.get $left) (i32.gt_u (local.get $left) (i32.const 64))))
        (call $sqdev_rows (local.get $at) (local.get $n) (local.get $cb) (local.get $scratch) (local.get $out))
        (call $flush (local.get $scratch) (local.get $total) (local.get $c))
        (local.set $at (i32.add (local.get $at) (i32.mul (local.get $n) (local.get $cb))))
        (local.set $left (i32.sub (local.get $left) (local.get $n)))
        (br $next2)))
    (call $average (i32.add (local.get $out) (local.get $cb)) (local.get $total) (local.get $c) (local.get $rows)))
  ;; Per-channel BatchNorm (inference) then PReLU, folded into scratch: f = γ/√(σ² + ε),
  ;; b = β − μ·f, a = α (or 1 where alpha is 0: no activation). scratch: 12·c bytes.
  (func $bn_prepare
    (param $scratch i32) (param $gamma i32) (param $beta i32) (param $mean i32) (param $var i32)
    (param $eps f32) (param $alpha i32) (param $c i32)
    (local $k i32) (local $o i32) (local $f f32) (local $cb i32)
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $k) (local.get $c)))
        (local.set $o (i32.shl (local.get $k) (i32.const 2)))
        ;; γ · (1/√(σ² + ε)), as the wasm FusedBatchNorm computes it (rsqrt, then the product).
        (local.set $f
          (f32.mul
            (f32.load (i32.add (local.get $gamma) (local.get $o)))
            (f32.div
              (f32.const 1)
              (f32.sqrt (f32.add (f32.load (i32.add (local.get $var) (local.get $o))) (local.get $eps))))))
        (f32.store (i32.add (local.get $scratch) (local.get $o)) (local.get $f))
        (f32.store
          (i32.add (i32.add (local.get $scratch) (local.get $cb)) (local.get $o))
          (f32.sub
            (f32.load (i32.add (local.get $beta) (local.get $o)))
            (f32.mul (f32.load (i32.add (local.get $mean) (local.get $o))) (local.get $f))))
        (f32.store
          (i32.add (i32.add (local.get $scratch) (i32.shl (local.get $cb) (i32.const 1))) (local.get $o))
          (if (result f32) (local.get $alpha)
            (then (f32.load (i32.add (local.get $alpha) (local.get $o))))
            (else (f32.const 1))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $next))))

  ;; y = prelu(x·f + b) per channel (BatchNorm in inference mode, then PReLU with one α per
  ;; channel, or none where alpha is 0). rows × c elements; scratch: 12·c bytes.
  (func (export "bn_act")
    (param $y i32) (param $x i32) (param $gamma i32) (param $beta i32) (param $mean i32) (param $var i32)
    (param $eps f32) (param $alpha i32) (param $rows i32) (param $c i32) (param $scratch i32)
    (local $k i32) (local $cb i32) (local $z v128)
    (call $bn_prepare (local.get $scratch) (local.get $gamma) (local.get $beta) (local.get $mean) (local.get $var)
      (local.get $eps) (local.get $alpha) (local.get $c))
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (block $done
      (loop $next_row
        (br_if $done (i32.eqz (local.get $rows)))
        (local.set $k (i32.const 0))
        (block $row_done
          (loop $next_lane
            (br_if $row_done (i32.ge_u (local.get $k) (local.get $cb)))
            (local.set $z
              (f32x4.add
                (f32x4.mul
                  (v128.load (i32.add (local.get $x) (local.get $k)))
                  (v128.load (i32.add (local.get $scratch) (local.get $k))))
                (v128.load (i32.add (i32.add (local.get $scratch) (local.get $cb)) (local.get $k)))))
            (v128.store
              (i32.add (local.get $y) (local.get $k))
              (v128.bitselect
                (local.get $z)
                (f32x4.mul
                  (local.get $z)
                  (v128.load (i32.add (i32.add (local.get $scratch) (i32.shl (local.get $cb) (i32.const 1))) (local.get $k))))
                (f32x4.gt (local.get $z) (f32x4.splat (f32.const 0)))))
            (local.set $k (i32.add (local.get $k) (i32.const 16)))
            (br $next_lane)))
        (local.set $x (i32.add (local.get $x) (local.get $cb)))
        (local.set $y (i32.add (local.get $y) (local.get $cb)))
        (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
        (br $next_row))))

  ;; The input gradient of bn_act plus that of x's batch statistics, in one pass:
  ;; dx = (z > 0 ? dy : dy·α)·f + x·a2 + b2 with z = x·f + b, a2 and b2 per channel (the
  ;; statistics' gradient as an affine map of x). rows × c elements; scratch: 12·c bytes.
  (func (export "bn_act_dx")
    (param $dx i32) (param $dy i32) (param $x i32) (param $gamma i32) (param $beta i32) (param $mean i32)
    (param $var i32) (param $eps f32) (param $alpha i32) (param $a2 i32) (param $b2 i32)
    (param $rows i32) (param $c i32) (param $scratch i32)
    (local $k i32) (local $cb i32) (local $vx v128) (local $vf v128) (local $g v128) (local $z v128)
    (call $bn_prepare (local.get $scratch) (local.get $gamma) (local.get $beta) (local.get $mean) (local.get $var)
      (local.get $eps) (local.get $alpha) (local.get $c))
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (block $done
      (loop $next_row
        (br_if $done (i32.eqz (local.get $rows)))
        (local.set $k (i32.const 0))
        (block $row_done
          (loop $next_lane
            (br_if $row_done (i32.ge_u (local.get $k) (local.get $cb)))
            (local.set $vx (v128.load (i32.add (local.get $x) (local.get $k))))
            (local.set $vf (v128.load (i32.add (local.get $scratch) (local.get $k))))
            (local.set $g (v128.load (i32.add (local.get $dy) (local.get $k))))
            (local.set $z
              (f32x4.add
                (f32x4.mul (local.get $vx) (local.get $vf))
                (v128.load (i32.add (i32.add (local.get $scratch) (local.get $cb)) (local.get $k)))))
            (local.set $g
              (v128.bitselect
                (local.get $g)
                (f32x4.mul
                  (local.get $g)
                  (v128.load (i32.add (i32.add (local.get $scratch) (i32.shl (local.get $cb) (i32.const 1))) (local.get $k))))
                (f32x4.gt (local.get $z) (f32x4.splat (f32.const 0)))))
            (v128.store
              (i32.add (local.get $dx) (local.get $k))
              (f32x4.add
                (f32x4.mul (local.get $g) (local.get $vf))
                (f32x4.add
                  (f32x4.mul (local.get $vx) (v128.load (i32.add (local.get $a2) (local.get $k))))
                  (v128.load (i32.add (local.get $b2) (local.get $k))))))
            (local.set $k (i32.add (local.get $k) (i32.const 16)))
            (br $next_lane)))
        (local.set $x (i32.add (local.get $x) (local.get $cb)))
        (local.set $dy (i32.add (local.get $dy) (local.get $cb)))
        (local.set $dx (i32.add (local.get $dx) (local.get $cb)))
        (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
        (br $next_row))))
  ;; For bn_act_sums: per row, with z = x·f + b, g = (z > 0 ? dy : dy·a) and x̂ = (x − μ)·r,
  ;; acc[0:c] += g, acc[c:2c] += g·x̂, acc[2c:3c] += (z > 0 ? 0 : dy·z). scratch holds f, b, a, r.
  (func $act_sums_rows
    (param $dy i32) (param $x i32) (param $rows i32) (param $cb i32) (param $scratch i32) (param $acc i32)
    (param $mean i32)
    (local $k i32) (local $vx v128) (local $vdy v128) (local $z v128) (local $pos v128) (local $g v128)
    (local $at i32)
    (block $done
      (loop $next_row
        (br_if $done (i32.eqz (local.get $rows)))
        (local.set $k (i32.const 0))
        (block $row_done
          (loop $next_lane
            (br_if $row_done (i32.ge_u (local.get $k) (local.get $cb)))
            (local.set $vx (v128.load (i32.add (local.get $x) (local.get $k))))
            (local.set $vdy (v128.load (i32.add (local.get $dy) (local.get $k))))
            (local.set $z
              (f32x4.add
                (f32x4.mul (local.get $vx) (v128.load (i32.add (local.get $scratch) (local.get $k))))
                (v128.load (i32.add (i32.add (local.get $scratch) (local.get $cb)) (local.get $k)))))
            (local.set $pos (f32x4.gt (local.get $z) (f32x4.splat (f32.const 0))))
            (local.set $g
              (v128.bitselect
                (local.get $vdy)
                (f32x4.mul
                  (local.get $vdy)
                  (v128.load (i32.add (i32.add (local.get $scratch) (i32.shl (local.get $cb) (i32.const 1))) (local.get $k))))
                (local.get $pos)))
            (local.set $at (i32.add (local.get $acc) (local.get $k)))
            (v128.store (local.get $at) (f32x4.add (v128.load (local.get $at)) (local.get $g)))
            (local.set $at (i32.add (local.get $at) (local.get $cb)))
            (v128.store
              (local.get $at)
              (f32x4.add
                (v128.load (local.get $at))
                (f32x4.mul
                  (local.get $g)
                  (f32x4.mul
                    (f32x4.sub (local.get $vx) (v128.load (i32.add (local.get $mean) (local.get $k))))
                    (v128.load (i32.add (i32.add (local.get $scratch) (i32.mul (local.get $cb) (i32.const 3))) (local.get $k)))))))
            (local.set $at (i32.add (local.get $at) (local.get $cb)))
            (v128.store
              (local.get $at)
              (f32x4.add
                (v128.load (local.get $at))
                (v128.bitselect
                  (f32x4.splat (f32.const 0))
                  (f32x4.mul (local.get $vdy) (local.get $z))
                  (local.get $pos))))
            (local.set $k (i32.add (local.get $k) (i32.const 16)))
            (br $next_lane)))
        (local.set $x (i32.add (local.get $x) (local.get $cb)))
        (local.set $dy (i32.add (local.get $dy) (local.get $cb)))
        (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
        (br $next_row))))

  ;; The per-channel sums of bn_act's gradient in training mode (μ, σ² the batch statistics):
  ;; out[0:c] = Σ g (β's gradient), out[c:2c] = Σ g·x̂ (γ's gradient), out[2c:3c] = Σ dy·min(z, 0)
  ;; (α's gradient), with g = (z > 0 ? dy : dy·α), z = x·f + b, x̂ = (x − μ)/√(σ² + ε). Blocks of
  ;; at most 64 rows in float32, the blocks in float64. scratch: 52·c bytes.
  (func (export "bn_act_sums")
    (param $out i32) (param $dy i32) (param $x i32) (param $gamma i32) (param $beta i32) (param $mean i32)
    (param $var i32) (param $eps f32) (param $alpha i32) (param $rows i32) (param $c i32) (param $scratch i32)
    (local $cb i32) (local $acc i32) (local $tot i32) (local $left i32) (local $n i32) (local $k i32)
    (local $o i32)
    (call $bn_prepare (local.get $scratch) (local.get $gamma) (local.get $beta) (local.get $mean) (local.get $var)
      (local.get $eps) (local.get $alpha) (local.get $c))
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    ;; r = 1/√(σ² + ε) after f, b and a.
    (block $r_done
      (loop $r_next
        (br_if $r_done (i32.ge_u (local.get $k) (local.get $c)))
        (local.set $o (i32.shl (local.get $k) (i32.const 2)))
        (f32.store
          (i32.add (i32.add (local.get $scratch) (i32.mul (local.get $cb) (i32.const 3))) (local.get $o))
          (f32.div
            (f32.const 1)
            (f32.sqrt (f32.add (f32.load (i32.add (local.get $var) (local.get $o))) (local.get $eps)))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $r_next)))
    (local.set $acc (i32.add (local.get $scratch) (i32.shl (local.get $cb) (i32.const 2))))
    (local.set $tot (i32.add (local.get $acc) (i32.mul (local.get $cb) (i32.const 3))))
    (memory.fill (local.get $acc) (i32.const 0) (i32.mul (local.get $cb) (i32.const 9)))
    (local.set $left (local.get $rows))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $left)))
        (local.set $n (select (i32.const 64) (local.get $left) (i32.gt_u (local.get $left) (i32.const 64))))
        (call $act_sums_rows (local.get $dy) (local.get $x) (local.get $n) (local.get $cb) (local.get $scratch)
          (local.get $acc) (local.get $mean))
        (call $flush (local.get $acc) (local.get $tot) (i32.mul (local.get $c) (i32.const 3)))
        (local.set $dy (i32.add (local.get $dy) (i32.mul (local.get $n) (local.get $cb))))
        (local.set $x (i32.add (local.get $x) (i32.mul (local.get $n) (local.get $cb))))
        (local.set $left (i32.sub (local.get $left) (local.get $n)))
        (br $next)))
    ;; out = totals as float32 (3c values): $average with a divisor of 1.
    (call $average (local.get $out) (local.get $tot) (i32.mul (local.get $c) (i32.const 3)) (i32.const 1)))
  ;; The input gradient of a strided depthwise conv (channel multiplier 1), by scattering:
  ;; dx[b, oy·sh + i − top, ox·sw + j − left, :] += dy[b, oy, ox, :] · w[i, j, :] for the taps that
  ;; land inside dx. dx [n, h, w, c] is zeroed first; dy [n, oh, ow, c]; w [kh, kw, c].
  (func (export "depthwise_dx")
    (param $dx i32) (param $dy i32) (param $w i32) (param $n i32) (param $h i32) (param $wd i32)
    (param $c i32) (param $oh i32) (param $ow i32) (param $kh i32) (param $kw i32) (param $sh i32)
    (param $sw i32) (param $top i32) (param $left i32)
    (local $cb i32) (local $b i32) (local $oy i32) (local $ox i32) (local $i i32) (local $j i32)
    (local $y i32) (local $x i32) (local $k i32) (local $src i32) (local $dst i32) (local $tap i32)
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (memory.fill (local.get $dx) (i32.const 0)
      (i32.mul (i32.mul (i32.mul (local.get $n) (local.get $h)) (local.get $wd)) (local.get $cb)))
    (local.set $src (local.get $dy))
    (block $b_done (loop $b_next
      (br_if $b_done (i32.ge_u (local.get $b) (local.get $n)))
      (local.set $oy (i32.const 0))
      (block $oy_done (loop $oy_next
        (br_if $oy_done (i32.ge_u (local.get $oy) (local.get $oh)))
        (local.set $ox (i32.const 0))
        (block $ox_done (loop $ox_next
          (br_if $ox_done (i32.ge_u (local.get $ox) (local.get $ow)))
          (local.set $i (i32.const 0))
          (block $i_done (loop $i_next
            (br_if $i_done (i32.ge_u (local.get $i) (local.get $kh)))
            (local.set $y (i32.sub (i32.add (i32.mul (local.get $oy) (local.get $sh)) (local.get $i)) (local.get $top)))
            (if (i32.lt_u (local.get $y) (local.get $h))
              (then
                (local.set $j (i32.const 0))
                (block $j_done (loop $j_next
                  (br_if $j_done (i32.ge_u (local.get $j) (local.get $kw)))
                  (local.set $x (i32.sub (i32.add (i32.mul (local.get $ox) (local.get $sw)) (local.get $j)) (local.get $left)))
                  (if (i32.lt_u (local.get $x) (local.get $wd))
                    (then
                      (local.set $dst
                        (i32.add (local.get $dx)
                          (i32.mul
                            (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $h)) (local.get $y)) (local.get $wd)) (local.get $x))
                            (local.get $cb))))
                      (local.set $tap
                        (i32.add (local.get $w)
                          (i32.mul (i32.add (i32.mul (local.get $i) (local.get $kw)) (local.get $j)) (local.get $cb))))
                      (local.set $k (i32.const 0))
                      (block $k_done (loop $k_next
                        (br_if $k_done (i32.ge_u (local.get $k) (local.get $cb)))
                        (v128.store
                          (i32.add (local.get $dst) (local.get $k))
                          (f32x4.add
                            (v128.load (i32.add (local.get $dst) (local.get $k)))
                            (f32x4.mul
                              (v128.load (i32.add (local.get $src) (local.get $k)))
                              (v128.load (i32.add (local.get $tap) (local.get $k))))))
                        (local.set $k (i32.add (local.get $k) (i32.const 16)))
                        (br $k_next)))))
                  (local.set $j (i32.add (local.get $j) (i32.const 1)))
                  (br $j_next)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $i_next)))
          (local.set $src (i32.add (local.get $src) (local.get $cb)))
          (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
          (br $ox_next)))
        (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
        (br $oy_next)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $b_next))))

  ;; The filter gradient of a depthwise conv (channel multiplier 1): dw [KH, KW, C] =
  ;; Σ over every dy pixel [N, OH, OW, C] and tap (i, j) inside the input of dy times the input x
  ;; [N, H, W, C] at (oy·sh + i − top, ox·sw + j − left), channel by channel: depthwise_dx's loops
  ;; with the roles of the filter and the input swapped. C a multiple of 4.
  (func (export "depthwise_dw")
    (param $dw i32) (param $dy i32) (param $xs i32) (param $n i32) (param $h i32) (param $wd i32)
    (param $c i32) (param $oh i32) (param $ow i32) (param $kh i32) (param $kw i32) (param $sh i32)
    (param $sw i32) (param $top i32) (param $left i32)
    (local $cb i32) (local $b i32) (local $oy i32) (local $ox i32) (local $i i32) (local $j i32)
    (local $y i32) (local $x i32) (local $k i32) (local $src i32) (local $dst i32) (local $tap i32)
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (memory.fill (local.get $dw) (i32.const 0)
      (i32.mul (i32.mul (local.get $kh) (local.get $kw)) (local.get $cb)))
    (local.set $src (local.get $dy))
    (block $b_done (loop $b_next
      (br_if $b_done (i32.ge_u (local.get $b) (local.get $n)))
      (local.set $oy (i32.const 0))
      (block $oy_done (loop $oy_next
        (br_if $oy_done (i32.ge_u (local.get $oy) (local.get $oh)))
        (local.set $ox (i32.const 0))
        (block $ox_done (loop $ox_next
          (br_if $ox_done (i32.ge_u (local.get $ox) (local.get $ow)))
          (local.set $i (i32.const 0))
          (block $i_done (loop $i_next
            (br_if $i_done (i32.ge_u (local.get $i) (local.get $kh)))
            (local.set $y (i32.sub (i32.add (i32.mul (local.get $oy) (local.get $sh)) (local.get $i)) (local.get $top)))
            (if (i32.lt_u (local.get $y) (local.get $h))
              (then
                (local.set $j (i32.const 0))
                (block $j_done (loop $j_next
                  (br_if $j_done (i32.ge_u (local.get $j) (local.get $kw)))
                  (local.set $x (i32.sub (i32.add (i32.mul (local.get $ox) (local.get $sw)) (local.get $j)) (local.get $left)))
                  (if (i32.lt_u (local.get $x) (local.get $wd))
                    (then
                      (local.set $dst
                        (i32.add (local.get $xs)
                          (i32.mul
                            (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $h)) (local.get $y)) (local.get $wd)) (local.get $x))
                            (local.get $cb))))
                      (local.set $tap
                        (i32.add (local.get $dw)
                          (i32.mul (i32.add (i32.mul (local.get $i) (local.get $kw)) (local.get $j)) (local.get $cb))))
                      (local.set $k (i32.const 0))
                      (block $k_done (loop $k_next
                        (br_if $k_done (i32.ge_u (local.get $k) (local.get $cb)))
                        (v128.store
                          (i32.add (local.get $tap) (local.get $k))
                          (f32x4.add
                            (v128.load (i32.add (local.get $tap) (local.get $k)))
                            (f32x4.mul
                              (v128.load (i32.add (local.get $src) (local.get $k)))
                              (v128.load (i32.add (local.get $dst) (local.get $k))))))
                        (local.set $k (i32.add (local.get $k) (i32.const 16)))
                        (br $k_next)))))
                  (local.set $j (i32.add (local.get $j) (i32.const 1)))
                  (br $j_next)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $i_next)))
          (local.set $src (i32.add (local.get $src) (local.get $cb)))
          (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
          (br $ox_next)))
        (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
        (br $oy_next)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $b_next))))
)
