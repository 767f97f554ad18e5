"""Published figures the simulator is calibrated to; ``agent/sim/README.md`` cites each.

Every behaviour is a distribution whose parameters depend on a shopper's latent
traits plus noise, so archetypes overlap the way real shoppers do. The numbers
here are the only tuning knobs; ``tests/test_sim_calibration.py`` checks that a
simulated population reproduces the targets within tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Calibration:
    # -- population shares (probability that a latent trait exceeds 0.5) --------
    share_wanderer: float = 0.45
    """Larson, Bradlow & Fader (2005): most trips are short, targeted excursions; long
    trips that cover much of the store are the minority of their 14 path clusters."""
    share_indecisive: float = 0.35
    share_showroomer: float = 0.25
    """Surveys of in-store phone use put showrooming at roughly a quarter of shoppers."""
    share_bargain: float = 0.45
    archetype_spread: float = 2.5
    """Shoppers come as archetypes (the issue's and the segmentation literature's
    premise): with 2.5 about three in four shoppers have a score below 0.2 or above 0.8
    on an axis, a minority sits near the middle. At 1.0 the scores would be spread
    evenly and an axis would be a coin toss for a fifth of shoppers (our assumption:
    no published figure gives the spread of these traits)."""

    # -- characteristic sets: chance a shopper carries each need ----------------
    set_rates: tuple[tuple[str, float], ...] = (
        ("small_basket", 0.40),
        ("childrens", 0.20),
        ("protein", 0.10),
        ("formal_wear", 0.15),
        ("ready_to_eat", 0.25),
    )

    family_group: float = 0.5
    """Shoppers with children's needs who come with family (assumption)."""
    family_second_companion: float = 0.4

    # -- movement ---------------------------------------------------------------
    walk_speed_mean: float = 1.0
    """m/s; shoppers walk slower than the 1.34 m/s free-flow mean of Weidmann (1993)."""
    walk_speed_sd: float = 0.18
    passerby_speed_mean: float = 1.34
    """Weidmann (1993) free walking speed on a pavement."""

    window_glance: float = 0.1
    """Passers-by who pause at the shop window by the door (assumption): people near the
    door who never come in, what door counters and Wi-Fi sensors must not count."""

    # -- plan: zones, dwell, items ---------------------------------------------
    zones_base: float = 1.0
    zones_per_wander: float = 4.0
    """Poisson mean of extra zones: mission trips see 1-2 zones, wanderers 4-6 (Hui,
    Bradlow & Fader 2009: shoppers cover under half of the store)."""
    detour_base: float = 0.15
    detour_per_wander: float = 0.55
    """Chance a hop goes via a random point: wanderers still sometimes walk straight."""
    revisit_base: float = 0.05
    revisit_per_indecisive: float = 0.45
    dwell_median_s: float = 45.0
    dwell_sigma: float = 0.75
    dwell_per_indecisive: float = 1.2
    dwell_per_showroomer: float = 1.6
    picks_base: float = 0.30
    picks_per_indecisive: float = 0.55
    picks_per_showroomer: float = 0.35
    small_basket_picks: float = 0.6
    """Solo and small households pick fewer items (assumption)."""
    return_base: float = 0.10
    return_per_indecisive: float = 0.50
    """A decisive shopper still returns about one pick in ten."""
    fitting_base: float = 0.25
    fitting_per_indecisive: float = 0.30
    fitting_dwell_median_s: float = 240.0
    fitting_keep: float = 0.67
    """Underhill (Why We Buy, 1999, Envirosell): about two in three who try on buy."""
    buy_shopper: float = 0.80
    buy_showroomer: float = 0.15
    """Showroomers examine and leave; a few still buy."""
    buy_curve: float = 1.5
    checkout_dwell_median_s: float = 75.0
    promo_weight_per_bargain: float = 3.0
    premium_weight_per_brand: float = 2.0
    set_zone_weight: float = 3.0

    # -- phones and Wi-Fi ----------------------------------------------------------
    phone_owned: float = 0.90
    """Share of adults with a smartphone (Pew Research 2021: 85 % US; GSMA Europe ~ 85-90 %)."""
    wifi_enabled: float = 0.85
    randomised_probe: float = 0.80
    """Share of phones using random MACs in probes (iOS 8+, Android 8+ default)."""
    probe_interval_idle_s: float = 120.0
    probe_interval_active_s: float = 25.0
    """Freudiger (2015, WiSec): probe bursts from tens to thousands an hour, most often when
    the screen is on; we use bursts every ~2 min idle and ~25 s with the phone in use."""
    probe_burst_frames: int = 2
    mac_rotation_s: float = 300.0
    """Randomised probe MACs change at least every few minutes (Martin et al., PoPETs 2017)."""
    associated_base: float = 0.08
    associated_per_showroomer: float = 0.30
    data_interval_s: float = 4.0
    tx_power_dbm: float = 15.0
    path_loss_1m_db: float = 40.0
    """Free-space loss at 1 m and 2.4 GHz is 40 dB."""
    path_loss_exponent: float = 3.0
    """Indoor retail/office: 2.7-3.5 (Rappaport, Wireless Communications)."""
    shadowing_sd_db: float = 5.0
    sensitivity_dbm: float = -92.0

    # -- RFID ------------------------------------------------------------------------
    rfid_read_p: float = 0.97
    """Chance a tag resting in an antenna's field answers in a one-second round: Gen2
    readers inventory a few hundred tags a second; misses come from orientation and
    detuning against products (shelf-read studies report 95-99 % per cycle)."""
    rfid_cross_read_p: float = 0.08
    rfid_cross_range_factor: float = 1.8
    rfid_report_interval_s: float = 15.0
    """Fixed readers report each tag at most once per interval per antenna (Zebra IoT
    Connector report filter); a moved tag is reported at once."""

    # -- clocks ------------------------------------------------------------------------
    clock_skew_s: float = 0.3
    """Each sensor's clock is off by up to this (NTP-synchronised devices on a store LAN
    agree within tens of milliseconds; cheap readers and cameras drift further between
    syncs). Assumption; well inside the agent's 5 s reorder allowance."""

    # -- camera ------------------------------------------------------------------------
    detect_p: float = 0.90
    occluded_detect_p: float = 0.40
    false_positives_per_frame: float = 0.03
    box_jitter: float = 0.04
    """Box edges move by ~4 % of box size between frames (detector noise)."""
    person_height_m: float = 1.7
    person_width_m: float = 0.5


DEFAULT = Calibration()
